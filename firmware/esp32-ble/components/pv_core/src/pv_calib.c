#include "pv/pv_calib.h"

#include "pv/pv_bytes.h"
#include "pv/pv_crc32.h"

#define CALIB_BLOB_VERSION 1u
#define CALIB_MIN_SPAN_MV 100u

pv_status_t pv_moisture_calib_validate(const pv_moisture_calib_t *calib)
{
    if (calib == NULL) {
        return PV_ERR_ARG;
    }
    const uint16_t hi = calib->dry_mv > calib->wet_mv ? calib->dry_mv : calib->wet_mv;
    const uint16_t lo = calib->dry_mv > calib->wet_mv ? calib->wet_mv : calib->dry_mv;
    return (uint16_t)(hi - lo) >= CALIB_MIN_SPAN_MV ? PV_OK : PV_ERR_RANGE;
}

pv_status_t pv_moisture_centi_pct(const pv_moisture_calib_t *calib, uint16_t probe_mv,
                                  uint16_t *centi_pct)
{
    if (centi_pct == NULL) {
        return PV_ERR_ARG;
    }
    pv_status_t st = pv_moisture_calib_validate(calib);
    if (st != PV_OK) {
        return st;
    }
    /* Signed 32-bit is plenty: spans are < 65536 mV, times 10000 < 2^31. */
    int32_t num = ((int32_t)calib->dry_mv - (int32_t)probe_mv) * 10000;
    int32_t den = (int32_t)calib->dry_mv - (int32_t)calib->wet_mv;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    int32_t pct = num <= 0 ? 0 : (num + den / 2) / den;
    if (pct > 10000) {
        pct = 10000;
    }
    *centi_pct = (uint16_t)pct;
    return PV_OK;
}

#define ADC_CLIP_MARGIN_MV 30u

uint16_t pv_probe_mv_from_adc(uint16_t adc_mv, uint32_t r_top_ohm, uint32_t r_bottom_ohm)
{
    if (r_top_ohm == 0u || r_bottom_ohm == 0u) {
        return adc_mv;
    }
    const uint32_t mv = pv_battery_mv_from_divider(adc_mv, r_top_ohm, r_bottom_ohm);
    return (uint16_t)(mv > 0xFFFFu ? 0xFFFFu : mv);
}

/* The ADC pin voltage for a probe output: the divider's forward direction. */
static uint32_t adc_mv_from_probe(uint16_t probe_mv, uint32_t r_top_ohm, uint32_t r_bottom_ohm)
{
    if (r_top_ohm == 0u || r_bottom_ohm == 0u) {
        return probe_mv;
    }
    const uint64_t num = (uint64_t)probe_mv * r_bottom_ohm;
    const uint64_t den = (uint64_t)r_top_ohm + r_bottom_ohm;
    return (uint32_t)((num + den / 2u) / den);
}

bool pv_adc_clipped(pv_target_t target, uint16_t adc_mv)
{
    return (uint32_t)adc_mv + ADC_CLIP_MARGIN_MV >= pv_adc_usable_max_mv(target);
}

pv_status_t pv_moisture_calib_fits_adc(const pv_moisture_calib_t *calib, pv_target_t target,
                                       uint32_t r_top_ohm, uint32_t r_bottom_ohm)
{
    if (calib == NULL) {
        return PV_ERR_ARG;
    }
    const uint32_t limit = (uint32_t)pv_adc_usable_max_mv(target) - ADC_CLIP_MARGIN_MV;
    if (adc_mv_from_probe(calib->dry_mv, r_top_ohm, r_bottom_ohm) >= limit ||
        adc_mv_from_probe(calib->wet_mv, r_top_ohm, r_bottom_ohm) >= limit) {
        return PV_ERR_RANGE;
    }
    return PV_OK;
}

pv_status_t pv_moisture_from_adc(const pv_moisture_calib_t *calib, pv_target_t target, uint16_t adc_mv,
                                 uint32_t r_top_ohm, uint32_t r_bottom_ohm, uint16_t *centi_pct)
{
    if (calib == NULL || centi_pct == NULL) {
        return PV_ERR_ARG;
    }
    if (pv_adc_clipped(target, adc_mv) &&
        pv_moisture_calib_fits_adc(calib, target, r_top_ohm, r_bottom_ohm) != PV_OK) {
        return PV_ERR_RANGE;
    }
    return pv_moisture_centi_pct(calib, pv_probe_mv_from_adc(adc_mv, r_top_ohm, r_bottom_ohm), centi_pct);
}

pv_status_t pv_moisture_calib_encode(const pv_moisture_calib_t *calib,
                                     uint8_t out[PV_MOISTURE_CALIB_BLOB_LEN])
{
    if (calib == NULL || out == NULL) {
        return PV_ERR_ARG;
    }
    out[0] = CALIB_BLOB_VERSION;
    pv_put_le16(&out[1], calib->dry_mv);
    pv_put_le16(&out[3], calib->wet_mv);
    pv_put_le32(&out[5], pv_crc32(out, 5u));
    return PV_OK;
}

pv_status_t pv_moisture_calib_decode(const uint8_t *in, size_t len, pv_moisture_calib_t *calib)
{
    if (in == NULL || calib == NULL) {
        return PV_ERR_ARG;
    }
    if (len != PV_MOISTURE_CALIB_BLOB_LEN || in[0] != CALIB_BLOB_VERSION ||
        pv_get_le32(&in[5]) != pv_crc32(in, 5u)) {
        return PV_ERR_MALFORMED;
    }
    pv_moisture_calib_t c = {pv_get_le16(&in[1]), pv_get_le16(&in[3])};
    pv_status_t st = pv_moisture_calib_validate(&c);
    if (st == PV_OK) {
        *calib = c;
    }
    return st;
}

uint32_t pv_battery_mv_from_divider(uint32_t adc_mv, uint32_t r_top_ohm, uint32_t r_bottom_ohm)
{
    if (r_bottom_ohm == 0u) {
        return 0u;
    }
    /* 64-bit intermediate: adc_mv * (r_top + r_bottom) overflows 32 bits for megaohm dividers. */
    const uint64_t num = (uint64_t)adc_mv * ((uint64_t)r_top_ohm + r_bottom_ohm);
    return (uint32_t)((num + r_bottom_ohm / 2u) / r_bottom_ohm);
}

uint8_t pv_battery_pct_lipo(uint32_t cell_mv)
{
    /* Typical LiPo open-circuit curve at room temperature. */
    static const struct {
        uint16_t mv;
        uint8_t pct;
    } curve[] = {
        {3300u, 0u},  {3500u, 5u},  {3600u, 10u}, {3700u, 25u},  {3750u, 35u}, {3800u, 45u},
        {3850u, 55u}, {3900u, 65u}, {4000u, 80u}, {4100u, 92u}, {4200u, 100u},
    };
    const size_t n = sizeof(curve) / sizeof(curve[0]);
    if (cell_mv <= curve[0].mv) {
        return 0u;
    }
    if (cell_mv >= curve[n - 1u].mv) {
        return 100u;
    }
    for (size_t i = 1; i < n; i++) {
        if (cell_mv <= curve[i].mv) {
            const uint32_t dv = curve[i].mv - curve[i - 1u].mv;
            const uint32_t dp = (uint32_t)curve[i].pct - curve[i - 1u].pct;
            const uint32_t off = cell_mv - curve[i - 1u].mv;
            return (uint8_t)(curve[i - 1u].pct + (off * dp + dv / 2u) / dv);
        }
    }
    return 100u;
}

uint8_t pv_sht3x_crc8(const uint8_t word[2])
{
    uint8_t crc = 0xFFu;
    for (size_t i = 0; i < 2u; i++) {
        crc ^= word[i];
        for (int bit = 0; bit < 8; bit++) {
            crc = (uint8_t)((crc & 0x80u) != 0u ? (uint8_t)(crc << 1) ^ 0x31u : (uint8_t)(crc << 1));
        }
    }
    return crc;
}

pv_status_t pv_sht3x_convert(const uint8_t frame[6], int16_t *temperature_centi_c,
                             uint16_t *humidity_centi_pct)
{
    if (frame == NULL || temperature_centi_c == NULL || humidity_centi_pct == NULL) {
        return PV_ERR_ARG;
    }
    if (pv_sht3x_crc8(&frame[0]) != frame[2] || pv_sht3x_crc8(&frame[3]) != frame[5]) {
        return PV_ERR_MALFORMED;
    }
    const int32_t t_raw = (int32_t)(((uint32_t)frame[0] << 8) | frame[1]);
    const int32_t rh_raw = (int32_t)(((uint32_t)frame[3] << 8) | frame[4]);
    /* T = -45 + 175 * raw / 65535 ; RH = 100 * raw / 65535, in hundredths, rounded. */
    const int32_t t = -4500 + (int32_t)((17500 * (int64_t)t_raw + 32767) / 65535);
    const int32_t rh = (int32_t)((10000 * (int64_t)rh_raw + 32767) / 65535);
    *temperature_centi_c = (int16_t)t;
    *humidity_centi_pct = (uint16_t)(rh > 10000 ? 10000 : rh);
    return PV_OK;
}

uint32_t pv_bh1750_centi_lux(uint16_t count)
{
    /* count / 1.2 lx = count * 100 / 1.2 centi-lux = count * 250 / 3, rounded. */
    return ((uint32_t)count * 250u + 1u) / 3u;
}
