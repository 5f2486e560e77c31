#include "pv/pv_config.h"

#include <string.h>

#include "pv/pv_bytes.h"

void pv_config_defaults(pv_config_t *config)
{
    memset(config, 0, sizeof(*config));
    config->sampling_interval_s = 600u;
    config->advert_burst_count = 3u;
    config->advert_burst_interval_ms = 100u;
    config->moisture_low = 2000u;
    config->moisture_high = 8000u;
    config->temperature_low = 500;
    config->temperature_high = 3500;
    config->connectable_window_s = 30u;
    config->alert_interval_s = 300u;
}

pv_status_t pv_config_validate(const pv_config_t *c)
{
    if (c == NULL) {
        return PV_ERR_ARG;
    }
    if (c->sampling_interval_s < 10u || c->sampling_interval_s > 86400u ||
        c->advert_burst_count < 1u || c->advert_burst_count > 20u ||
        c->advert_burst_interval_ms < 20u || c->advert_burst_interval_ms > 10240u ||
        c->camera_time_count > PV_CONFIG_MAX_CAMERA_TIMES || c->moisture_low > 10000u ||
        c->moisture_high > 10000u || c->moisture_low >= c->moisture_high ||
        c->temperature_low < -4000 || c->temperature_low > 8500 || c->temperature_high < -4000 ||
        c->temperature_high > 8500 || c->temperature_low >= c->temperature_high ||
        c->connectable_window_s > 600u || c->alert_interval_s < 10u || c->alert_interval_s > 86400u ||
        (c->camera_interval_s != 0u &&
         (c->camera_interval_s < 600u || c->camera_interval_s > 604800u))) {
        return PV_ERR_RANGE;
    }
    for (uint8_t i = 0; i < c->camera_time_count; i++) {
        if (c->camera_times[i] > 1439u || (i > 0u && c->camera_times[i] <= c->camera_times[i - 1u])) {
            return PV_ERR_RANGE;
        }
    }
    return PV_OK;
}

/* Expected value length of a known type; 0 for unknown types. camera_times is checked apart. */
static size_t fixed_len(uint8_t type)
{
    switch (type) {
    case PV_CFG_SAMPLING_INTERVAL_S:
    case PV_CFG_ALERT_INTERVAL_S:
    case PV_CFG_CAMERA_INTERVAL_S:
        return 4u;
    case PV_CFG_ADVERT_BURST_COUNT:
        return 1u;
    case PV_CFG_ADVERT_BURST_INTERVAL_MS:
    case PV_CFG_MOISTURE_LOW:
    case PV_CFG_MOISTURE_HIGH:
    case PV_CFG_TEMPERATURE_LOW:
    case PV_CFG_TEMPERATURE_HIGH:
    case PV_CFG_CONNECTABLE_WINDOW_S:
        return 2u;
    default:
        return 0u;
    }
}

pv_status_t pv_config_decode(const uint8_t *in, size_t len, pv_config_t *config)
{
    if (in == NULL || config == NULL) {
        return PV_ERR_ARG;
    }
    if (len < 4u) {
        return PV_ERR_MALFORMED;
    }
    pv_config_t c;
    pv_config_defaults(&c);
    c.revision = pv_get_le32(in);
    uint16_t seen = 0; /* bit per known type */
    size_t i = 4u;
    while (i < len) {
        if (len - i < 2u) {
            return PV_ERR_MALFORMED;
        }
        const uint8_t type = in[i];
        const uint8_t vlen = in[i + 1u];
        const uint8_t *v = &in[i + 2u];
        if (len - i - 2u < vlen) {
            return PV_ERR_MALFORMED;
        }
        i += 2u + vlen;
        if (type < PV_CFG_SAMPLING_INTERVAL_S || type > PV_CFG_LAST_KNOWN_TYPE) {
            continue; /* a later protocol's setting: skipped */
        }
        const uint16_t bit = (uint16_t)(1u << type);
        if ((seen & bit) != 0u) {
            return PV_ERR_MALFORMED;
        }
        seen |= bit;
        if (type == PV_CFG_CAMERA_TIMES) {
            if (vlen % 2u != 0u || vlen / 2u > PV_CONFIG_MAX_CAMERA_TIMES) {
                return PV_ERR_MALFORMED;
            }
            c.camera_time_count = (uint8_t)(vlen / 2u);
            for (uint8_t k = 0; k < c.camera_time_count; k++) {
                c.camera_times[k] = pv_get_le16(&v[2u * k]);
            }
            continue;
        }
        if (vlen != fixed_len(type)) {
            return PV_ERR_MALFORMED;
        }
        switch (type) {
        case PV_CFG_SAMPLING_INTERVAL_S:
            c.sampling_interval_s = pv_get_le32(v);
            break;
        case PV_CFG_ADVERT_BURST_COUNT:
            c.advert_burst_count = v[0];
            break;
        case PV_CFG_ADVERT_BURST_INTERVAL_MS:
            c.advert_burst_interval_ms = pv_get_le16(v);
            break;
        case PV_CFG_MOISTURE_LOW:
            c.moisture_low = pv_get_le16(v);
            break;
        case PV_CFG_MOISTURE_HIGH:
            c.moisture_high = pv_get_le16(v);
            break;
        case PV_CFG_TEMPERATURE_LOW:
            c.temperature_low = (int16_t)pv_get_le16(v);
            break;
        case PV_CFG_TEMPERATURE_HIGH:
            c.temperature_high = (int16_t)pv_get_le16(v);
            break;
        case PV_CFG_CONNECTABLE_WINDOW_S:
            c.connectable_window_s = pv_get_le16(v);
            break;
        case PV_CFG_ALERT_INTERVAL_S:
            c.alert_interval_s = pv_get_le32(v);
            break;
        default: /* PV_CFG_CAMERA_INTERVAL_S */
            c.camera_interval_s = pv_get_le32(v);
            break;
        }
    }
    pv_status_t st = pv_config_validate(&c);
    if (st != PV_OK) {
        return st;
    }
    *config = c;
    return PV_OK;
}

static uint8_t *put_tlv_hdr(uint8_t *p, uint8_t type, uint8_t len)
{
    p[0] = type;
    p[1] = len;
    return p + 2;
}

pv_status_t pv_config_encode(const pv_config_t *c, uint8_t *out, size_t cap, size_t *out_len)
{
    if (c == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    pv_status_t st = pv_config_validate(c);
    if (st != PV_OK) {
        return st;
    }
    uint8_t buf[PV_CONFIG_MAX_LEN];
    uint8_t *p = buf;
    pv_put_le32(p, c->revision);
    p += 4;
    p = put_tlv_hdr(p, PV_CFG_SAMPLING_INTERVAL_S, 4u);
    pv_put_le32(p, c->sampling_interval_s);
    p += 4;
    p = put_tlv_hdr(p, PV_CFG_ADVERT_BURST_COUNT, 1u);
    *p++ = c->advert_burst_count;
    p = put_tlv_hdr(p, PV_CFG_ADVERT_BURST_INTERVAL_MS, 2u);
    pv_put_le16(p, c->advert_burst_interval_ms);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_CAMERA_TIMES, (uint8_t)(2u * c->camera_time_count));
    for (uint8_t k = 0; k < c->camera_time_count; k++) {
        pv_put_le16(p, c->camera_times[k]);
        p += 2;
    }
    p = put_tlv_hdr(p, PV_CFG_MOISTURE_LOW, 2u);
    pv_put_le16(p, c->moisture_low);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_MOISTURE_HIGH, 2u);
    pv_put_le16(p, c->moisture_high);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_TEMPERATURE_LOW, 2u);
    pv_put_le16(p, (uint16_t)c->temperature_low);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_TEMPERATURE_HIGH, 2u);
    pv_put_le16(p, (uint16_t)c->temperature_high);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_CONNECTABLE_WINDOW_S, 2u);
    pv_put_le16(p, c->connectable_window_s);
    p += 2;
    p = put_tlv_hdr(p, PV_CFG_ALERT_INTERVAL_S, 4u);
    pv_put_le32(p, c->alert_interval_s);
    p += 4;
    p = put_tlv_hdr(p, PV_CFG_CAMERA_INTERVAL_S, 4u);
    pv_put_le32(p, c->camera_interval_s);
    p += 4;
    const size_t n = (size_t)(p - buf);
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    memcpy(out, buf, n);
    *out_len = n;
    return PV_OK;
}

uint32_t pv_config_next_interval_s(const pv_config_t *c, int has_moisture,
                                   uint16_t moisture_centi_pct, int has_temperature,
                                   int16_t temperature_centi_c)
{
    const int moisture_alert =
        has_moisture && (moisture_centi_pct < c->moisture_low || moisture_centi_pct > c->moisture_high);
    const int temperature_alert =
        has_temperature &&
        (temperature_centi_c < c->temperature_low || temperature_centi_c > c->temperature_high);
    /* An alarm never makes the node report less often than it does normally. */
    if ((moisture_alert || temperature_alert) && c->alert_interval_s < c->sampling_interval_s) {
        return c->alert_interval_s;
    }
    return c->sampling_interval_s;
}

/* The latest camera_times instant at or before now (0 when the list is empty). */
static uint32_t last_scheduled_instant(const pv_config_t *c, uint32_t now_epoch)
{
    if (c->camera_time_count == 0u) {
        return 0u;
    }
    const uint32_t midnight = now_epoch - now_epoch % 86400u;
    for (int k = (int)c->camera_time_count - 1; k >= 0; k--) {
        const uint32_t at = midnight + (uint32_t)c->camera_times[k] * 60u;
        if (at <= now_epoch) {
            return at;
        }
    }
    /* Before today's first time: yesterday's last one. */
    const uint32_t last = (uint32_t)c->camera_times[c->camera_time_count - 1u] * 60u;
    return midnight >= 86400u ? midnight - 86400u + last : 0u;
}

int pv_config_capture_due(const pv_config_t *c, uint32_t now_epoch, uint32_t last_capture_epoch)
{
    if (c->camera_interval_s != 0u &&
        (last_capture_epoch == 0u || now_epoch - last_capture_epoch >= c->camera_interval_s)) {
        return 1;
    }
    const uint32_t at = last_scheduled_instant(c, now_epoch);
    return at != 0u && at > last_capture_epoch && now_epoch - at <= 3600u;
}

uint32_t pv_config_seconds_to_next_capture(const pv_config_t *c, uint32_t now_epoch,
                                           uint32_t last_capture_epoch)
{
    uint32_t best = PV_CAPTURE_NEVER;
    if (c->camera_interval_s != 0u) {
        const uint32_t next = last_capture_epoch + c->camera_interval_s;
        best = (last_capture_epoch == 0u || next <= now_epoch) ? 0u : next - now_epoch;
    }
    if (c->camera_time_count > 0u) {
        const uint32_t sec_of_day = now_epoch % 86400u;
        uint32_t wait = 86400u - sec_of_day + (uint32_t)c->camera_times[0] * 60u;
        for (uint8_t k = 0; k < c->camera_time_count; k++) {
            const uint32_t at = (uint32_t)c->camera_times[k] * 60u;
            if (at > sec_of_day) {
                wait = at - sec_of_day;
                break;
            }
        }
        if (wait < best) {
            best = wait;
        }
    }
    return best;
}
