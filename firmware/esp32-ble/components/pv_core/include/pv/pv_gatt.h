/* Fixed-layout GATT values and the scan response (protocol.md 2, 3.1, 3.3, 3.5, 3.6). */
#ifndef PV_GATT_H
#define PV_GATT_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_bthome.h"
#include "pv/pv_status.h"

#define PV_PROTOCOL_VERSION 1u

/* Plant-Vita 128-bit UUIDs in the byte order NimBLE's BLE_UUID128_INIT and the air use (LSB first):
 * 5056000X-08d6-4635-b36b-311a13153956. */
#define PV_UUID128_BYTES(x)                                                                       \
    {0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, (x), 0x00, 0x56, 0x50}
#define PV_UUID_SERVICE 0x01u
#define PV_UUID_INFO 0x02u
#define PV_UUID_CONFIG 0x03u
#define PV_UUID_TIME 0x04u
#define PV_UUID_CONTROL_POINT 0x05u
#define PV_UUID_RECORDS 0x06u
#define PV_UUID_IMAGE_DATA 0x07u

/* Info capabilities. */
enum {
    PV_CAP_CAMERA = 1u << 0,
    PV_CAP_MOISTURE = 1u << 1,
    PV_CAP_TEMPERATURE_HUMIDITY = 1u << 2,
    PV_CAP_ILLUMINANCE = 1u << 3,
    PV_CAP_BATTERY = 1u << 4,
};

#define PV_FIRMWARE_VERSION_MAX 32u
#define PV_INFO_MAX_LEN (12u + PV_FIRMWARE_VERSION_MAX)

typedef struct {
    uint8_t protocol_version;
    uint16_t capabilities;
    uint32_t max_image_size;
    uint32_t record_capacity;
    char firmware_version[PV_FIRMWARE_VERSION_MAX + 1u]; /* NUL-terminated */
} pv_info_t;

pv_status_t pv_info_encode(const pv_info_t *info, uint8_t *out, size_t cap, size_t *out_len);
/* Bytes after the firmware string are ignored (later fields). */
pv_status_t pv_info_decode(const uint8_t *in, size_t len, pv_info_t *info);

/* Time: u32 UTC seconds, valid from 2020-01-01. */
#define PV_TIME_MIN_EPOCH 1577836800u
pv_status_t pv_time_decode(const uint8_t *in, size_t len, uint32_t *epoch);
pv_status_t pv_time_encode(uint32_t epoch, uint8_t out[4]);

/* Scan response status bits. */
enum {
    PV_STATUS_STORAGE_HIGH = 1u << 0,
    PV_STATUS_IMAGE_READY = 1u << 1,
    PV_STATUS_TIME_UNSET = 1u << 2,
};
#define PV_STATUS_PENDING_MASK 0x07u

/* Default name: "PV-" + last 3 MAC bytes in upper-case hex; out needs 10 bytes. */
void pv_default_name(const uint8_t mac[6], char out[10]);

/* Scan response: Local Name AD (complete, or shortened to whole UTF-8 characters so everything
 * fits 31 bytes) then Service Data 128-bit AD with the Plant-Vita service UUID and status byte. */
pv_status_t pv_scan_response_encode(const char *name, uint8_t status, uint8_t *out, size_t cap,
                                    size_t *out_len);

typedef struct {
    char name[PV_ADV_MAX_LEN];
    uint8_t name_shortened;
    uint8_t status;
} pv_scan_response_t;

pv_status_t pv_scan_response_decode(const uint8_t *in, size_t len, pv_scan_response_t *rsp);

/* Pairing string printed at first boot (and shown as a QR code by any QR tool):
 * "PV1:<MAC as AA:BB:CC:DD:EE:FF>:<bindkey, 32 lower-case hex>:<name>". out needs
 * PV_PAIRING_URI_MAX bytes; the name is cut to 10 bytes like in the scan response. */
#define PV_PAIRING_URI_MAX 72u
pv_status_t pv_pairing_string(const uint8_t mac[6], const uint8_t bindkey[16], const char *name,
                              char *out, size_t cap);

/* Records notification: whole records [seq u32][epoch u32][len u8][objects] back to back. */
#define PV_RECORD_HEADER_LEN 9u

/* Append one record to a notification being built in out[0..cap), at *used.
 * PV_ERR_NO_SPACE when it does not fit (the caller sends what it has and starts a new one). */
pv_status_t pv_records_append(uint8_t *out, size_t cap, size_t *used, uint32_t seq, uint32_t epoch,
                              const uint8_t *objects, size_t objects_len);

typedef struct {
    uint32_t seq;
    uint32_t epoch;
    const uint8_t *objects; /* points into the notification */
    uint8_t objects_len;
} pv_record_view_t;

/* Walk a notification: *offset starts at 0; PV_ERR_NOT_FOUND after the last record,
 * PV_ERR_MALFORMED on a truncated record. */
pv_status_t pv_records_next(const uint8_t *in, size_t len, size_t *offset, pv_record_view_t *record);

/* ImageData chunk: [image_id u16][offset u32][bytes]. */
#define PV_IMAGE_CHUNK_HEADER_LEN 6u

pv_status_t pv_image_chunk_encode(uint16_t image_id, uint32_t offset, const uint8_t *data,
                                  size_t data_len, uint8_t *out, size_t cap, size_t *out_len);

typedef struct {
    uint16_t image_id;
    uint32_t offset;
    const uint8_t *data; /* points into the notification */
    size_t data_len;
} pv_image_chunk_t;

/* A chunk carries at least one byte and a non-zero image id. */
pv_status_t pv_image_chunk_decode(const uint8_t *in, size_t len, pv_image_chunk_t *chunk);

#endif
