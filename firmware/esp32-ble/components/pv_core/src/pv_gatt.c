#include "pv/pv_gatt.h"

#include <string.h>

#include "pv/pv_bytes.h"

static const uint8_t k_service_uuid[16] = PV_UUID128_BYTES(PV_UUID_SERVICE);

pv_status_t pv_info_encode(const pv_info_t *info, uint8_t *out, size_t cap, size_t *out_len)
{
    if (info == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    const size_t fw_len = strlen(info->firmware_version);
    if (fw_len > PV_FIRMWARE_VERSION_MAX) {
        return PV_ERR_RANGE;
    }
    const size_t n = 12u + fw_len;
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = info->protocol_version;
    pv_put_le16(&out[1], info->capabilities);
    pv_put_le32(&out[3], info->max_image_size);
    pv_put_le32(&out[7], info->record_capacity);
    out[11] = (uint8_t)fw_len;
    memcpy(&out[12], info->firmware_version, fw_len);
    *out_len = n;
    return PV_OK;
}

pv_status_t pv_info_decode(const uint8_t *in, size_t len, pv_info_t *info)
{
    if (in == NULL || info == NULL) {
        return PV_ERR_ARG;
    }
    if (len < 12u || in[11] > PV_FIRMWARE_VERSION_MAX || len - 12u < in[11]) {
        return PV_ERR_MALFORMED;
    }
    memset(info, 0, sizeof(*info));
    info->protocol_version = in[0];
    info->capabilities = pv_get_le16(&in[1]);
    info->max_image_size = pv_get_le32(&in[3]);
    info->record_capacity = pv_get_le32(&in[7]);
    memcpy(info->firmware_version, &in[12], in[11]);
    return PV_OK;
}

pv_status_t pv_time_decode(const uint8_t *in, size_t len, uint32_t *epoch)
{
    if (in == NULL || epoch == NULL) {
        return PV_ERR_ARG;
    }
    if (len != 4u) {
        return PV_ERR_MALFORMED;
    }
    const uint32_t t = pv_get_le32(in);
    if (t < PV_TIME_MIN_EPOCH) {
        return PV_ERR_RANGE;
    }
    *epoch = t;
    return PV_OK;
}

pv_status_t pv_time_encode(uint32_t epoch, uint8_t out[4])
{
    if (out == NULL) {
        return PV_ERR_ARG;
    }
    if (epoch < PV_TIME_MIN_EPOCH) {
        return PV_ERR_RANGE;
    }
    pv_put_le32(out, epoch);
    return PV_OK;
}

void pv_default_name(const uint8_t mac[6], char out[10])
{
    static const char hex[] = "0123456789ABCDEF";
    out[0] = 'P';
    out[1] = 'V';
    out[2] = '-';
    for (size_t i = 0; i < 3u; i++) {
        out[3u + 2u * i] = hex[mac[3u + i] >> 4];
        out[4u + 2u * i] = hex[mac[3u + i] & 0x0Fu];
    }
    out[9] = '\0';
}

pv_status_t pv_pairing_string(const uint8_t mac[6], const uint8_t bindkey[16], const char *name,
                              char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    static const char hex_upper[] = "0123456789ABCDEF";
    if (mac == NULL || bindkey == NULL || name == NULL || out == NULL) {
        return PV_ERR_ARG;
    }
    size_t name_len = strlen(name);
    if (name_len > 10u) {
        name_len = 10u;
        while (name_len > 0u && ((uint8_t)name[name_len] & 0xC0u) == 0x80u) {
            name_len--;
        }
    }
    /* "PV1:" + 17 + ":" + 32 + ":" + name + NUL */
    const size_t n = 4u + 17u + 1u + 32u + 1u + name_len;
    if (n + 1u > cap) {
        return PV_ERR_NO_SPACE;
    }
    char *p = out;
    memcpy(p, "PV1:", 4u);
    p += 4;
    for (size_t i = 0; i < 6u; i++) {
        *p++ = hex_upper[mac[i] >> 4];
        *p++ = hex_upper[mac[i] & 0x0Fu];
        *p++ = ':'; /* after the last octet it separates the MAC from the key */
    }
    for (size_t i = 0; i < 16u; i++) {
        *p++ = hex[bindkey[i] >> 4];
        *p++ = hex[bindkey[i] & 0x0Fu];
    }
    *p++ = ':';
    memcpy(p, name, name_len);
    p[name_len] = '\0';
    return PV_OK;
}

/* Service data AD: len(1) type(1) uuid(16) status(1). */
#define SR_SERVICE_AD_LEN 19u

pv_status_t pv_scan_response_encode(const char *name, uint8_t status, uint8_t *out, size_t cap,
                                    size_t *out_len)
{
    if (name == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    const size_t max_name = PV_ADV_MAX_LEN - SR_SERVICE_AD_LEN - 2u;
    size_t name_len = strlen(name);
    uint8_t ad_type = 0x09;
    if (name_len > max_name) {
        /* Cut at a UTF-8 character boundary: never keep a continuation byte's lead alone. */
        name_len = max_name;
        while (name_len > 0u && ((uint8_t)name[name_len] & 0xC0u) == 0x80u) {
            name_len--;
        }
        ad_type = 0x08;
    }
    const size_t n = 2u + name_len + SR_SERVICE_AD_LEN;
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = (uint8_t)(1u + name_len);
    out[1] = ad_type;
    memcpy(&out[2], name, name_len);
    uint8_t *p = &out[2u + name_len];
    p[0] = 0x12; /* 18 = type + UUID + status */
    p[1] = 0x21; /* Service Data - 128-bit UUID */
    memcpy(&p[2], k_service_uuid, 16u);
    p[18] = status;
    *out_len = n;
    return PV_OK;
}

pv_status_t pv_scan_response_decode(const uint8_t *in, size_t len, pv_scan_response_t *rsp)
{
    if (in == NULL || rsp == NULL) {
        return PV_ERR_ARG;
    }
    memset(rsp, 0, sizeof(*rsp));
    int have_name = 0;
    int have_status = 0;
    size_t i = 0;
    while (i < len) {
        const size_t ad_len = in[i];
        if (ad_len == 0u) {
            break; /* zero padding ends the significant part */
        }
        if (len - i - 1u < ad_len) {
            return PV_ERR_MALFORMED;
        }
        const uint8_t type = in[i + 1u];
        const uint8_t *v = &in[i + 2u];
        const size_t vlen = ad_len - 1u;
        if ((type == 0x08 || type == 0x09) && vlen < sizeof(rsp->name)) {
            memcpy(rsp->name, v, vlen);
            rsp->name[vlen] = '\0';
            rsp->name_shortened = (uint8_t)(type == 0x08);
            have_name = 1;
        } else if (type == 0x21 && vlen == 17u && memcmp(v, k_service_uuid, 16u) == 0) {
            rsp->status = v[16];
            have_status = 1;
        }
        i += 1u + ad_len;
    }
    return (have_name && have_status) ? PV_OK : PV_ERR_MALFORMED;
}

pv_status_t pv_records_append(uint8_t *out, size_t cap, size_t *used, uint32_t seq, uint32_t epoch,
                              const uint8_t *objects, size_t objects_len)
{
    if (out == NULL || used == NULL || (objects == NULL && objects_len > 0u)) {
        return PV_ERR_ARG;
    }
    if (objects_len > 0xFFu) {
        return PV_ERR_RANGE;
    }
    if (*used > cap || cap - *used < PV_RECORD_HEADER_LEN + objects_len) {
        return PV_ERR_NO_SPACE;
    }
    uint8_t *p = &out[*used];
    pv_put_le32(p, seq);
    pv_put_le32(&p[4], epoch);
    p[8] = (uint8_t)objects_len;
    if (objects_len > 0u) {
        memcpy(&p[9], objects, objects_len);
    }
    *used += PV_RECORD_HEADER_LEN + objects_len;
    return PV_OK;
}

pv_status_t pv_records_next(const uint8_t *in, size_t len, size_t *offset, pv_record_view_t *record)
{
    if (in == NULL || offset == NULL || record == NULL) {
        return PV_ERR_ARG;
    }
    if (*offset >= len) {
        return PV_ERR_NOT_FOUND;
    }
    const size_t left = len - *offset;
    const uint8_t *p = &in[*offset];
    if (left < PV_RECORD_HEADER_LEN || left - PV_RECORD_HEADER_LEN < p[8]) {
        return PV_ERR_MALFORMED;
    }
    record->seq = pv_get_le32(p);
    record->epoch = pv_get_le32(&p[4]);
    record->objects_len = p[8];
    record->objects = &p[9];
    *offset += PV_RECORD_HEADER_LEN + p[8];
    return PV_OK;
}

pv_status_t pv_image_chunk_encode(uint16_t image_id, uint32_t offset, const uint8_t *data,
                                  size_t data_len, uint8_t *out, size_t cap, size_t *out_len)
{
    if ((data == NULL && data_len > 0u) || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    if (image_id == 0u) {
        return PV_ERR_RANGE;
    }
    if (cap < PV_IMAGE_CHUNK_HEADER_LEN || cap - PV_IMAGE_CHUNK_HEADER_LEN < data_len) {
        return PV_ERR_NO_SPACE;
    }
    pv_put_le16(out, image_id);
    pv_put_le32(&out[2], offset);
    if (data_len > 0u) {
        memcpy(&out[PV_IMAGE_CHUNK_HEADER_LEN], data, data_len);
    }
    *out_len = PV_IMAGE_CHUNK_HEADER_LEN + data_len;
    return PV_OK;
}

pv_status_t pv_image_chunk_decode(const uint8_t *in, size_t len, pv_image_chunk_t *chunk)
{
    if (in == NULL || chunk == NULL) {
        return PV_ERR_ARG;
    }
    if (len <= PV_IMAGE_CHUNK_HEADER_LEN || pv_get_le16(in) == 0u) {
        return PV_ERR_MALFORMED;
    }
    chunk->image_id = pv_get_le16(in);
    chunk->offset = pv_get_le32(&in[2]);
    chunk->data = &in[PV_IMAGE_CHUNK_HEADER_LEN];
    chunk->data_len = len - PV_IMAGE_CHUNK_HEADER_LEN;
    return PV_OK;
}
