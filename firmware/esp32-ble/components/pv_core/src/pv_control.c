#include "pv/pv_control.h"

#include <string.h>

#include "pv/pv_bytes.h"

/* Parameter length of each request opcode (index = opcode). */
static const uint8_t k_param_len[9] = {0, 4, 4, 0, 0, 2, 6, 2, 0};

pv_status_t pv_cp_request_decode(const uint8_t *in, size_t len, pv_cp_request_t *req,
                                 pv_cp_status_t *status)
{
    if (in == NULL || req == NULL || status == NULL) {
        return PV_ERR_ARG;
    }
    memset(req, 0, sizeof(*req));
    if (len < 1u) {
        *status = PV_CP_INVALID_PARAMETER;
        return PV_ERR_MALFORMED;
    }
    req->opcode = in[0];
    if (in[0] < PV_OP_REPORT_SINCE || in[0] > PV_OP_ABORT) {
        *status = PV_CP_UNKNOWN_OPCODE;
        return PV_ERR_UNSUPPORTED;
    }
    if (len - 1u != k_param_len[in[0]]) {
        *status = PV_CP_INVALID_PARAMETER;
        return PV_ERR_MALFORMED;
    }
    const uint8_t *p = &in[1];
    switch (in[0]) {
    case PV_OP_REPORT_SINCE:
    case PV_OP_ACK_UPTO:
        req->seq = pv_get_le32(p);
        break;
    case PV_OP_IMG_LIST:
        req->image_id = pv_get_le16(p);
        break;
    case PV_OP_IMG_GET:
        req->image_id = pv_get_le16(p);
        req->offset = pv_get_le32(&p[2]);
        break;
    case PV_OP_IMG_DELETE:
        req->image_id = pv_get_le16(p);
        break;
    default:
        break;
    }
    if ((in[0] == PV_OP_IMG_GET || in[0] == PV_OP_IMG_DELETE) && req->image_id == 0u) {
        *status = PV_CP_INVALID_PARAMETER;
        return PV_ERR_RANGE;
    }
    *status = PV_CP_SUCCESS;
    return PV_OK;
}

pv_status_t pv_cp_request_encode(const pv_cp_request_t *req, uint8_t *out, size_t cap,
                                 size_t *out_len)
{
    if (req == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    if (req->opcode < PV_OP_REPORT_SINCE || req->opcode > PV_OP_ABORT) {
        return PV_ERR_UNSUPPORTED;
    }
    const size_t n = 1u + k_param_len[req->opcode];
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = req->opcode;
    switch (req->opcode) {
    case PV_OP_REPORT_SINCE:
    case PV_OP_ACK_UPTO:
        pv_put_le32(&out[1], req->seq);
        break;
    case PV_OP_IMG_LIST:
    case PV_OP_IMG_DELETE:
        pv_put_le16(&out[1], req->image_id);
        break;
    case PV_OP_IMG_GET:
        pv_put_le16(&out[1], req->image_id);
        pv_put_le32(&out[3], req->offset);
        break;
    default:
        break;
    }
    *out_len = n;
    return PV_OK;
}

static void put_entry(uint8_t *p, const pv_image_entry_t *e)
{
    pv_put_le16(p, e->image_id);
    pv_put_le32(&p[2], e->size);
    pv_put_le32(&p[6], e->crc32);
    pv_put_le32(&p[10], e->epoch);
}

static void get_entry(const uint8_t *p, pv_image_entry_t *e)
{
    e->image_id = pv_get_le16(p);
    e->size = pv_get_le32(&p[2]);
    e->crc32 = pv_get_le32(&p[6]);
    e->epoch = pv_get_le32(&p[10]);
}

/* Length of the SUCCESS result of an opcode; IMG_LIST's depends on n. */
static size_t result_len(uint8_t opcode, size_t n_images)
{
    switch (opcode) {
    case PV_OP_REPORT_SINCE:
        return 8u;
    case PV_OP_ACK_UPTO:
        return 4u;
    case PV_OP_COUNT:
        return 12u;
    case PV_OP_CAPTURE:
        return PV_CP_IMAGE_ENTRY_LEN;
    case PV_OP_IMG_LIST:
        return 2u + n_images * PV_CP_IMAGE_ENTRY_LEN;
    case PV_OP_IMG_GET:
        return 10u;
    default:
        return 0u;
    }
}

pv_status_t pv_cp_response_encode(const pv_cp_response_t *rsp, uint8_t *out, size_t cap,
                                  size_t *out_len)
{
    if (rsp == NULL || out == NULL || out_len == NULL) {
        return PV_ERR_ARG;
    }
    if (rsp->n_images > PV_CP_MAX_IMAGES || rsp->more > 1u) {
        return PV_ERR_RANGE;
    }
    const size_t n = 3u + (rsp->status == PV_CP_SUCCESS ? result_len(rsp->opcode, rsp->n_images) : 0u);
    if (n > cap) {
        return PV_ERR_NO_SPACE;
    }
    out[0] = PV_CP_RESPONSE_CODE;
    out[1] = rsp->opcode;
    out[2] = rsp->status;
    if (rsp->status == PV_CP_SUCCESS) {
        uint8_t *p = &out[3];
        switch (rsp->opcode) {
        case PV_OP_REPORT_SINCE:
            pv_put_le32(p, rsp->count);
            pv_put_le32(&p[4], rsp->last_seq);
            break;
        case PV_OP_ACK_UPTO:
            pv_put_le32(p, rsp->remaining);
            break;
        case PV_OP_COUNT:
            pv_put_le32(p, rsp->count);
            pv_put_le32(&p[4], rsp->oldest_seq);
            pv_put_le32(&p[8], rsp->newest_seq);
            break;
        case PV_OP_CAPTURE:
            put_entry(p, &rsp->image);
            break;
        case PV_OP_IMG_LIST:
            p[0] = rsp->n_images;
            p[1] = rsp->more;
            for (size_t i = 0; i < rsp->n_images; i++) {
                put_entry(&p[2u + i * PV_CP_IMAGE_ENTRY_LEN], &rsp->images[i]);
            }
            break;
        case PV_OP_IMG_GET:
            pv_put_le16(p, rsp->image.image_id);
            pv_put_le32(&p[2], rsp->image.size);
            pv_put_le32(&p[6], rsp->image.crc32);
            break;
        default:
            break;
        }
    }
    *out_len = n;
    return PV_OK;
}

pv_status_t pv_cp_response_decode(const uint8_t *in, size_t len, pv_cp_response_t *rsp)
{
    if (in == NULL || rsp == NULL) {
        return PV_ERR_ARG;
    }
    memset(rsp, 0, sizeof(*rsp));
    if (len < 3u || in[0] != PV_CP_RESPONSE_CODE) {
        return PV_ERR_MALFORMED;
    }
    rsp->opcode = in[1];
    rsp->status = in[2];
    if (rsp->status > PV_CP_STORAGE_FULL) {
        return PV_ERR_MALFORMED;
    }
    if (rsp->status != PV_CP_SUCCESS) {
        return len == 3u ? PV_OK : PV_ERR_MALFORMED;
    }
    const uint8_t *p = &in[3];
    const size_t plen = len - 3u;
    size_t n_images = 0;
    if (rsp->opcode == PV_OP_IMG_LIST) {
        if (plen < 2u || p[0] > PV_CP_MAX_IMAGES || p[1] > 1u) {
            return PV_ERR_MALFORMED;
        }
        n_images = p[0];
    }
    if (rsp->opcode < PV_OP_REPORT_SINCE || rsp->opcode > PV_OP_ABORT ||
        plen != result_len(rsp->opcode, n_images)) {
        return PV_ERR_MALFORMED;
    }
    switch (rsp->opcode) {
    case PV_OP_REPORT_SINCE:
        rsp->count = pv_get_le32(p);
        rsp->last_seq = pv_get_le32(&p[4]);
        break;
    case PV_OP_ACK_UPTO:
        rsp->remaining = pv_get_le32(p);
        break;
    case PV_OP_COUNT:
        rsp->count = pv_get_le32(p);
        rsp->oldest_seq = pv_get_le32(&p[4]);
        rsp->newest_seq = pv_get_le32(&p[8]);
        break;
    case PV_OP_CAPTURE:
        get_entry(p, &rsp->image);
        break;
    case PV_OP_IMG_LIST:
        rsp->n_images = p[0];
        rsp->more = p[1];
        for (size_t i = 0; i < n_images; i++) {
            get_entry(&p[2u + i * PV_CP_IMAGE_ENTRY_LEN], &rsp->images[i]);
        }
        break;
    case PV_OP_IMG_GET:
        rsp->image.image_id = pv_get_le16(p);
        rsp->image.size = pv_get_le32(&p[2]);
        rsp->image.crc32 = pv_get_le32(&p[6]);
        break;
    default:
        break;
    }
    return PV_OK;
}

size_t pv_cp_img_list_fit(size_t att_payload)
{
    if (att_payload < 5u) {
        return 0u;
    }
    const size_t n = (att_payload - 5u) / PV_CP_IMAGE_ENTRY_LEN;
    return n > PV_CP_MAX_IMAGES ? PV_CP_MAX_IMAGES : n;
}
