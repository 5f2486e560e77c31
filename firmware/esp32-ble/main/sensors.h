/* Sensor drivers: capacitive soil probe and battery divider on ADC1, SHT3x (temperature and
 * humidity) and BH1750 (light) on I2C. Arithmetic is pv_calib's; this file only moves bytes. */
#pragma once

#include <stdint.h>

#include "esp_err.h"
#include "pv/pv_bthome.h"
#include "pv/pv_calib.h"

#define SENSORS_SHT3X_ADDR 0x44
#define SENSORS_BH1750_ADDR 0x23

esp_err_t sensors_init(void);

/* Power the sensors, measure everything that answers, power them down. A failed sensor leaves its
 * PV_HAS_* bit clear (the advert then omits that object) instead of failing the whole reading. */
esp_err_t sensors_measure(const pv_moisture_calib_t *calib, pv_reading_t *reading);

/* Averaged soil probe output in millivolts (also used by calibration). */
esp_err_t sensors_probe_mv(uint16_t *mv);

/* Sensors present, as Info capability bits (PV_CAP_*), from what answered at init. */
uint16_t sensors_capabilities(void);

void sensors_power(int on);
