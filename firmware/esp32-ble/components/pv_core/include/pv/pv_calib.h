/* Sensor arithmetic kept out of the drivers so it runs (and is tested) on the host:
 * soil moisture calibration, battery divider and charge curve, SHT3x and BH1750 conversions. */
#ifndef PV_CALIB_H
#define PV_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_board.h"
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

/* The probe's output in mV from the ADC pin's, through an optional divider (r_top 0: none). The C3
 * needs one (e.g. 100k/330k): its ADC clips at 2.5 V and a dry probe gives up to ~2.8 V. */
uint16_t pv_probe_mv_from_adc(uint16_t adc_mv, uint32_t r_top_ohm, uint32_t r_bottom_ohm);

/* True when the ADC pin is at (or within 30 mV of) the top of the target's usable range. */
bool pv_adc_clipped(pv_target_t target, uint16_t adc_mv);

/* Moisture from the ADC pin voltage on `target`. A clipped input still reads 0 % when the
 * calibrated dry point is measurable (the soil is at least that dry); when it is not, the value is
 * unknowable and PV_ERR_RANGE is returned, so the node leaves moisture out instead of guessing. */
pv_status_t pv_moisture_from_adc(const pv_moisture_calib_t *calib, pv_target_t target, uint16_t adc_mv,
                                 uint32_t r_top_ohm, uint32_t r_bottom_ohm, uint16_t *centi_pct);

/* PV_OK when both calibration points (probe mV) reach the ADC below its clipping level on `target`
 * through the divider; PV_ERR_RANGE otherwise (a C3 without its divider): not saved, say why. */
pv_status_t pv_moisture_calib_fits_adc(const pv_moisture_calib_t *calib, pv_target_t target,
                                       uint32_t r_top_ohm, uint32_t r_bottom_ohm);

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
