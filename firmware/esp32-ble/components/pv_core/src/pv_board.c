#include "pv/pv_board.h"

bool pv_gpio_is_strapping(pv_target_t target, int gpio)
{
    switch (target) {
    case PV_TARGET_ESP32C3:
        return gpio == 2 || gpio == 8 || gpio == 9;
    case PV_TARGET_ESP32S3:
        return gpio == 0 || gpio == 3 || gpio == 45 || gpio == 46;
    }
    return true;
}

bool pv_gpio_can_wake(pv_target_t target, int gpio)
{
    switch (target) {
    case PV_TARGET_ESP32C3:
        return gpio >= 0 && gpio <= 5;
    case PV_TARGET_ESP32S3:
        return gpio >= 0 && gpio <= 21;
    }
    return false;
}

uint16_t pv_adc_usable_max_mv(pv_target_t target)
{
    /* Datasheet "effective measurement range" at ADC_ATTEN_DB_12. */
    return target == PV_TARGET_ESP32C3 ? 2500u : 3100u;
}

uint16_t pv_adc_nominal_full_scale_mv(pv_target_t target)
{
    return target == PV_TARGET_ESP32C3 ? 2500u : 3100u;
}
