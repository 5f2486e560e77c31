/* Facts of the two supported chips that the firmware's logic depends on, kept host-testable:
 * strapping pins (never a button), deep-sleep wake-capable pins, and the ADC's usable range. */
#ifndef PV_BOARD_H
#define PV_BOARD_H

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    PV_TARGET_ESP32C3 = 0,
    PV_TARGET_ESP32S3 = 1,
} pv_target_t;

/* True when the ROM samples `gpio` at reset (C3: 2, 8, 9; S3: 0, 3, 45, 46): holding a button on
 * such a pin through reset selects the download mode or a JTAG source instead of running the app. */
bool pv_gpio_is_strapping(pv_target_t target, int gpio);

/* True when `gpio` can wake the chip from deep sleep (C3: GPIO0-5; S3: RTC GPIO0-21). */
bool pv_gpio_can_wake(pv_target_t target, int gpio);

/* Highest input, in mV at the pin, that the ADC measures without clipping at 12 dB attenuation
 * (C3: 2,500 mV; S3: 3,100 mV), and the full scale used when the chip has no eFuse calibration. */
uint16_t pv_adc_usable_max_mv(pv_target_t target);
uint16_t pv_adc_nominal_full_scale_mv(pv_target_t target);

#endif
