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

/* Averaged voltage at the probe's ADC pin, in millivolts. */
esp_err_t sensors_probe_pin_mv(uint16_t *mv);

/* The probe's own output in millivolts (through the divider, if fitted), for calibration;
 * ESP_ERR_INVALID_SIZE when the pin clips the ADC (a C3 without the divider). */
esp_err_t sensors_probe_mv(uint16_t *mv);

/* Sensors present, as Info capability bits (PV_CAP_*), from what answered at init. */
uint16_t sensors_capabilities(void);

void sensors_power(int on);
