/* Sensor arithmetic kept out of the drivers so it runs (and is tested) on the host:
 * soil moisture calibration, battery divider and charge curve, SHT3x and BH1750 conversions. */
#ifndef PV_CALIB_H
#define PV_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

/* Per-node soil probe calibration: the probe's output in dry air and in water, in millivolts.
 * Capacitive probes read higher when dry; both directions are accepted. */
typedef struct {
    uint16_t dry_mv;
    uint16_t wet_mv;
} pv_moisture_calib_t;

/* Factory default for a v1.2 capacitive probe on a 3.3 V supply, used until the node is calibrated. */
#define PV_MOISTURE_CALIB_DEFAULT {2600u, 1100u}

/* Serialized form stored in NVS: version(1) dry(2) wet(2) crc32(4). */
#define PV_MOISTURE_CALIB_BLOB_LEN 9u

/* Refuses calibrations whose end points are closer than 100 mV (an uncalibrated or broken probe). */
pv_status_t pv_moisture_calib_validate(const pv_moisture_calib_t *calib);

/* Moisture in 0.01 % (0..10000), clamped to the calibrated span. */
pv_status_t pv_moisture_centi_pct(const pv_moisture_calib_t *calib, uint16_t probe_mv,
                                  uint16_t *centi_pct);

pv_status_t pv_moisture_calib_encode(const pv_moisture_calib_t *calib,
                                     uint8_t out[PV_MOISTURE_CALIB_BLOB_LEN]);
pv_status_t pv_moisture_calib_decode(const uint8_t *in, size_t len, pv_moisture_calib_t *calib);

/* Battery voltage at the cell from the ADC millivolts across the bottom resistor of a divider. */
uint32_t pv_battery_mv_from_divider(uint32_t adc_mv, uint32_t r_top_ohm, uint32_t r_bottom_ohm);

/* State of charge (0..100 %) of a single Li-ion/LiPo cell under light load, piecewise linear. */
uint8_t pv_battery_pct_lipo(uint32_t cell_mv);

/* SHT3x: CRC-8 (poly 0x31, init 0xFF) over a 2-byte word. */
uint8_t pv_sht3x_crc8(const uint8_t word[2]);

/* SHT3x measurement frame (T msb, T lsb, crc, RH msb, RH lsb, crc) to 0.01 degC and 0.01 %RH. */
pv_status_t pv_sht3x_convert(const uint8_t frame[6], int16_t *temperature_centi_c,
                             uint16_t *humidity_centi_pct);

/* BH1750 raw count (high-resolution mode, default MTreg 69) to 0.01 lx: lux = count / 1.2. */
uint32_t pv_bh1750_centi_lux(uint16_t count);

#endif
