/* Control Point requests and indications (protocol.md 3.4). */
#ifndef PV_CONTROL_H
#define PV_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

#define PV_CP_RESPONSE_CODE 0x80u
#define PV_CP_IMAGE_ENTRY_LEN 14u
#define PV_CP_MAX_IMAGES 17u /* what a 247-byte MTU indication holds */
#define PV_CP_MAX_RESPONSE_LEN (5u + PV_CP_MAX_IMAGES * PV_CP_IMAGE_ENTRY_LEN)

typedef enum {
    PV_OP_REPORT_SINCE = 0x01,
    PV_OP_ACK_UPTO = 0x02,
    PV_OP_COUNT = 0x03,
    PV_OP_CAPTURE = 0x04,
    PV_OP_IMG_LIST = 0x05,
    PV_OP_IMG_GET = 0x06,
    PV_OP_IMG_DELETE = 0x07,
    PV_OP_ABORT = 0x08,
} pv_cp_opcode_t;

typedef enum {
    PV_CP_SUCCESS = 0x00,
    PV_CP_UNKNOWN_OPCODE = 0x01,
    PV_CP_INVALID_PARAMETER = 0x02,
    PV_CP_NOT_FOUND = 0x03,
    PV_CP_BUSY = 0x04,
    PV_CP_ABORTED = 0x05,
    PV_CP_NO_CAMERA = 0x06,
    PV_CP_CAPTURE_FAILED = 0x07,
    PV_CP_STORAGE_FULL = 0x08,
} pv_cp_status_t;

typedef struct {
    uint8_t opcode;
    uint32_t seq;      /* REPORT_SINCE, ACK_UPTO */
    uint16_t image_id; /* IMG_GET, IMG_DELETE; after_id for IMG_LIST */
    uint32_t offset;   /* IMG_GET */
} pv_cp_request_t;

/* Parse a Control Point write. On error *status says what to indicate: UNKNOWN_OPCODE for an
 * opcode outside 1..8 (req->opcode is still set), INVALID_PARAMETER for a wrong length or an image
 * id of 0. Returns PV_OK only for a well-formed request. */
pv_status_t pv_cp_request_decode(const uint8_t *in, size_t len, pv_cp_request_t *req,
                                 pv_cp_status_t *status);
pv_status_t pv_cp_request_encode(const pv_cp_request_t *req, uint8_t *out, size_t cap,
                                 size_t *out_len);

typedef struct {
    uint16_t image_id;
    uint32_t size;
    uint32_t crc32;
    uint32_t epoch;
} pv_image_entry_t;

typedef struct {
    uint8_t opcode;
    uint8_t status;
    /* SUCCESS results, by opcode: */
    uint32_t count;      /* REPORT_SINCE, COUNT */
    uint32_t last_seq;   /* REPORT_SINCE */
    uint32_t remaining;  /* ACK_UPTO */
    uint32_t oldest_seq; /* COUNT */
    uint32_t newest_seq; /* COUNT */
    pv_image_entry_t image; /* CAPTURE (all fields), IMG_GET (image_id, size, crc32) */
    uint8_t n_images;       /* IMG_LIST */
    uint8_t more;           /* IMG_LIST */
    pv_image_entry_t images[PV_CP_MAX_IMAGES];
} pv_cp_response_t;

/* Encode an indication; the result fields are written only when status is SUCCESS. */
pv_status_t pv_cp_response_encode(const pv_cp_response_t *rsp, uint8_t *out, size_t cap,
                                  size_t *out_len);
pv_status_t pv_cp_response_decode(const uint8_t *in, size_t len, pv_cp_response_t *rsp);

/* How many image entries an IMG_LIST indication can carry in an ATT payload of this size. */
size_t pv_cp_img_list_fit(size_t att_payload);

#endif
