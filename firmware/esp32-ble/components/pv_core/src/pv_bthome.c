#include "pv/pv_bthome.h"

#include <string.h>

#include "pv/pv_bytes.h"
#include "pv/pv_ccm.h"

pv_status_t pv_bthome_encode_objects(const pv_reading_t *reading, uint8_t *out, size_t cap,
                                     size_t *out_len)
{
    if (reading == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    /* Out-of-range values are firmware bugs (protocol.md 1.3): refuse rather than wrap. */
    const uint8_t has = reading->present;
    if (((has & PV_HAS_BATTERY) != 0u && reading->battery_pct > 100u) ||
        ((has & PV_HAS_TEMPERATURE) != 0u &&
         (reading->temperature_centi_c < -4000 || reading->temperature_centi_c > 8500)) ||
        ((has & PV_HAS_HUMIDITY) != 0u && reading->humidity_centi_pct > 10000u) ||
        ((has & PV_HAS_ILLUMINANCE) != 0u && reading->illuminance_centi_lux > 0xFFFFFFu) ||
        ((has & PV_HAS_MOISTURE) != 0u && reading->moisture_centi_pct > 10000u) ||
        ((has & PV_HAS_CONDUCTIVITY) != 0u && reading->conductivity_us_cm > 20000u)) {
        return PV_ERR_RANGE;
    }
    uint8_t buf[PV_BTHOME_MAX_OBJECTS_LEN];
    size_t n = 0;
    /* BTHome v2 requires objects in ascending id order. */
    if ((reading->present & PV_HAS_BATTERY) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_BATTERY;
        buf[n++] = reading->battery_pct;
    }
    if ((reading->present & PV_HAS_TEMPERATURE) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_TEMPERATURE;
        pv_put_le16(&buf[n], (uint16_t)reading->temperature_centi_c);
        n += 2u;
    }
    if ((reading->present & PV_HAS_HUMIDITY) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_HUMIDITY;
        pv_put_le16(&buf[n], reading->humidity_centi_pct);
        n += 2u;
    }
    if ((reading->present & PV_HAS_ILLUMINANCE) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_ILLUMINANCE;
        pv_put_le24(&buf[n], reading->illuminance_centi_lux);
        n += 3u;
    }
    if ((reading->present & PV_HAS_MOISTURE) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_MOISTURE;
        pv_put_le16(&buf[n], reading->moisture_centi_pct);
        n += 2u;
    }
    if ((reading->present & PV_HAS_CONDUCTIVITY) != 0u) {
        buf[n++] = PV_BTHOME_OBJ_CONDUCTIVITY;
        pv_put_le16(&buf[n], reading->conductivity_us_cm);
        n += 2u;
    }
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    memcpy(out, buf, n);
    *out_len = n;
    return PV_OK;
}

/* Value length of a Plant-Vita object id, 0 for any other id. */
static size_t object_value_len(uint8_t object_id)
{
    switch (object_id) {
    case PV_BTHOME_OBJ_BATTERY:
        return 1u;
    case PV_BTHOME_OBJ_TEMPERATURE:
    case PV_BTHOME_OBJ_HUMIDITY:
    case PV_BTHOME_OBJ_MOISTURE:
    case PV_BTHOME_OBJ_CONDUCTIVITY:
        return 2u;
    case PV_BTHOME_OBJ_ILLUMINANCE:
        return 3u;
    default:
        return 0u;
    }
}

pv_status_t pv_bthome_decode_objects(const uint8_t *in, size_t len, pv_reading_t *reading)
{
    if ((in == NULL && len > 0u) || reading == NULL) {
        return PV_ERR_ARG;
    }
    pv_reading_t r;
    memset(&r, 0, sizeof(r));
    int last_id = -1;
    size_t i = 0;
    while (i < len) {
        const uint8_t id = in[i++];
        const size_t vlen = object_value_len(id);
        /* Ascending ids also rule out repeats. */
        if (vlen == 0u || (int)id <= last_id || len - i < vlen) {
            return PV_ERR_MALFORMED;
        }
        last_id = id;
        const uint8_t *v = &in[i];
        switch (id) {
        case PV_BTHOME_OBJ_BATTERY:
            r.battery_pct = v[0];
            r.present |= PV_HAS_BATTERY;
            break;
        case PV_BTHOME_OBJ_TEMPERATURE:
            r.temperature_centi_c = (int16_t)pv_get_le16(v);
            r.present |= PV_HAS_TEMPERATURE;
            break;
        case PV_BTHOME_OBJ_HUMIDITY:
            r.humidity_centi_pct = pv_get_le16(v);
            r.present |= PV_HAS_HUMIDITY;
            break;
        case PV_BTHOME_OBJ_ILLUMINANCE:
            r.illuminance_centi_lux = pv_get_le24(v);
            r.present |= PV_HAS_ILLUMINANCE;
            break;
        case PV_BTHOME_OBJ_MOISTURE:
            r.moisture_centi_pct = pv_get_le16(v);
            r.present |= PV_HAS_MOISTURE;
            break;
        default: /* PV_BTHOME_OBJ_CONDUCTIVITY */
            r.conductivity_us_cm = pv_get_le16(v);
            r.present |= PV_HAS_CONDUCTIVITY;
            break;
        }
        i += vlen;
    }
    *reading = r;
    return PV_OK;
}

uint8_t pv_bthome_advert_present(uint32_t counter)
{
    const uint8_t every = PV_HAS_BATTERY | PV_HAS_TEMPERATURE | PV_HAS_ILLUMINANCE | PV_HAS_MOISTURE;
    return (uint8_t)(every | ((counter & 1u) == 0u ? PV_HAS_HUMIDITY : PV_HAS_CONDUCTIVITY));
}

pv_status_t pv_bthome_encode_advert_objects(const pv_reading_t *reading, uint32_t counter, uint8_t *out,
                                            size_t cap, size_t *out_len)
{
    if (reading == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    uint8_t whole[PV_BTHOME_MAX_OBJECTS_LEN];
    size_t n = 0;
    pv_status_t st = pv_bthome_encode_objects(reading, whole, sizeof(whole), &n);
    if (st != PV_OK) {
        return st;
    }
    if (n <= PV_BTHOME_ADVERT_OBJECTS_MAX) {
        if (n > cap) {
            return PV_ERR_NO_SPACE;
        }
        memcpy(out, whole, n);
        *out_len = n;
        return PV_OK;
    }
    pv_reading_t carried = *reading;
    carried.present &= pv_bthome_advert_present(counter);
    return pv_bthome_encode_objects(&carried, out, cap, out_len);
}

void pv_bthome_nonce(const uint8_t mac[6], uint8_t devinfo, uint32_t counter, uint8_t nonce[13])
{
    memcpy(nonce, mac, 6u);
    nonce[6] = (uint8_t)(PV_BTHOME_UUID & 0xFFu);
    nonce[7] = (uint8_t)(PV_BTHOME_UUID >> 8);
    nonce[8] = devinfo;
    pv_put_le32(&nonce[9], counter);
}

pv_status_t pv_bthome_service_data_plain(uint8_t devinfo, const uint8_t *objects, size_t objects_len,
                                         uint8_t *out, size_t cap, size_t *out_len)
{
    if ((objects == NULL && objects_len > 0u) || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    if ((devinfo & PV_BTHOME_DEVINFO_ENCRYPTED) != 0u) {
        return PV_ERR_ARG;
    }
    const size_t n = 1u + objects_len;
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = devinfo;
    if (objects_len > 0u) {
        memcpy(&out[1], objects, objects_len);
    }
    *out_len = n;
    return PV_OK;
}

pv_status_t pv_bthome_service_data_encrypt(const uint8_t key[16], const uint8_t mac[6],
                                           uint8_t devinfo, uint32_t counter,
                                           const uint8_t *objects, size_t objects_len,
                                           uint8_t *out, size_t cap, size_t *out_len)
{
    if (key == NULL || mac == NULL || (objects == NULL && objects_len > 0u) || out == NULL ||
        out_len == NULL) {
        return PV_ERR_ARG;
    }
    const size_t n = PV_BTHOME_ENC_OVERHEAD + objects_len;
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    devinfo = (uint8_t)(devinfo | PV_BTHOME_DEVINFO_ENCRYPTED);
    uint8_t nonce[PV_CCM_NONCE_LEN];
    pv_bthome_nonce(mac, devinfo, counter, nonce);
    out[0] = devinfo;
    pv_status_t st = pv_ccm_encrypt(key, nonce, objects, objects_len, &out[1], &out[1u + objects_len + 4u]);
    if (st != PV_OK) {
        return st;
    }
    pv_put_le32(&out[1u + objects_len], counter);
    *out_len = n;
    return PV_OK;
}

pv_status_t pv_bthome_service_data_parse(const uint8_t *in, size_t len, const uint8_t key[16],
                                         const uint8_t mac[6], pv_bthome_frame_t *frame)
{
    if (in == NULL || frame == NULL) {
        return PV_ERR_ARG;
    }
    memset(frame, 0, sizeof(*frame));
    if (len < 1u) {
        return PV_ERR_MALFORMED;
    }
    frame->devinfo = in[0];
    if ((frame->devinfo & PV_BTHOME_DEVINFO_VERSION_MASK) != PV_BTHOME_DEVINFO_VERSION_2) {
        return PV_ERR_UNSUPPORTED;
    }
    frame->encrypted = (uint8_t)(frame->devinfo & PV_BTHOME_DEVINFO_ENCRYPTED);
    if (frame->encrypted == 0u) {
        if (key != NULL) {
            return PV_ERR_AUTH; /* downgrade: a paired node never sends plaintext */
        }
        frame->objects_len = len - 1u;
        if (frame->objects_len > sizeof(frame->objects)) {
            return PV_ERR_MALFORMED;
        }
        memcpy(frame->objects, &in[1], frame->objects_len);
        return PV_OK;
    }
    /* At least one object (2 bytes) besides device info, counter and MIC. */
    if (len < PV_BTHOME_ENC_OVERHEAD + 2u || len - PV_BTHOME_ENC_OVERHEAD > sizeof(frame->objects)) {
        return PV_ERR_MALFORMED;
    }
    if (key == NULL || mac == NULL) {
        return PV_ERR_AUTH; /* encrypted, but no bindkey to authenticate it */
    }
    const size_t clen = len - PV_BTHOME_ENC_OVERHEAD;
    frame->counter = pv_get_le32(&in[1u + clen]);
    uint8_t nonce[PV_CCM_NONCE_LEN];
    pv_bthome_nonce(mac, frame->devinfo, frame->counter, nonce);
    pv_status_t st = pv_ccm_decrypt(key, nonce, &in[1], clen, &in[1u + clen + 4u], frame->objects);
    if (st != PV_OK) {
        return st;
    }
    frame->objects_len = clen;
    return PV_OK;
}

pv_status_t pv_adv_build(const uint8_t *service_data, size_t service_data_len, uint8_t *out,
                         size_t cap, size_t *out_len)
{
    if (service_data == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    const size_t n = 3u + 4u + service_data_len;
    if (n > cap || n > PV_ADV_MAX_LEN) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = 0x02; /* Flags AD length */
    out[1] = 0x01; /* AD type Flags */
    out[2] = 0x06; /* LE General Discoverable, BR/EDR not supported */
    out[3] = (uint8_t)(service_data_len + 3u);
    out[4] = 0x16; /* AD type Service Data - 16-bit UUID */
    pv_put_le16(&out[5], PV_BTHOME_UUID);
    memcpy(&out[7], service_data, service_data_len);
    *out_len = n;
    return PV_OK;
}
