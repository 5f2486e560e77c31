/* BTHome v2 objects and (encrypted) service data, the readings a node broadcasts each wake.
 * Format: https://bthome.io/format/ — service data UUID 0xFCD2, device-info byte, objects in
 * ascending id order; encrypted payloads add counter (u32 LE) and a 4-byte AES-CCM MIC with
 * nonce = MAC (display order) | 0xD2 0xFC | device info | counter. */
#ifndef PV_BTHOME_H
#define PV_BTHOME_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

#define PV_BTHOME_UUID 0xFCD2u
#define PV_BTHOME_DEVINFO_ENCRYPTED 0x01u
#define PV_BTHOME_DEVINFO_TRIGGER 0x04u
#define PV_BTHOME_DEVINFO_VERSION_2 0x40u
#define PV_BTHOME_DEVINFO_VERSION_MASK 0xE0u

#define PV_BTHOME_OBJ_PACKET_ID 0x00u
#define PV_BTHOME_OBJ_BATTERY 0x01u
#define PV_BTHOME_OBJ_TEMPERATURE 0x02u
#define PV_BTHOME_OBJ_HUMIDITY 0x03u
#define PV_BTHOME_OBJ_ILLUMINANCE 0x05u
#define PV_BTHOME_OBJ_MOISTURE 0x14u
#define PV_BTHOME_OBJ_CONDUCTIVITY 0x56u

/* Legacy advertising PDU payload limit. */
#define PV_ADV_MAX_LEN 31u
/* Service data overhead when encrypted: devinfo(1) counter(4) MIC(4). */
#define PV_BTHOME_ENC_OVERHEAD 9u
#define PV_BTHOME_MAX_OBJECTS_LEN 24u
/* Object bytes one encrypted legacy advert can carry: 31 - Flags(3) - AD header and UUID(4) - 9. */
#define PV_BTHOME_ADVERT_OBJECTS_MAX 15u

/* Which fields of a reading hold a measurement. */
enum {
    PV_HAS_BATTERY = 1u << 0,
    PV_HAS_TEMPERATURE = 1u << 1,
    PV_HAS_HUMIDITY = 1u << 2,
    PV_HAS_ILLUMINANCE = 1u << 3,
    PV_HAS_MOISTURE = 1u << 4,
    PV_HAS_CONDUCTIVITY = 1u << 5,
};

/* One measurement in the wire's fixed-point units. */
typedef struct {
    uint8_t present;                /* PV_HAS_* bits */
    uint8_t battery_pct;            /* 0..100 % */
    int16_t temperature_centi_c;    /* 0.01 degC */
    uint16_t humidity_centi_pct;    /* 0.01 %RH */
    uint32_t illuminance_centi_lux; /* 0.01 lx, 24 bits */
    uint16_t moisture_centi_pct;    /* 0.01 % volumetric-ish, after calibration */
    uint16_t conductivity_us_cm;    /* 1 uS/cm, 0..20000 */
} pv_reading_t;

/* The PV_HAS_* bits the encrypted advert with this counter carries when the whole measurement
 * does not fit one advert (protocol.md 1.4). All six objects (18 bytes) exceed a legacy advert's
 * 15, so such adverts alternate by counter parity: humidity rides in even-counter adverts,
 * conductivity in odd ones, the rest in every advert. Each measurement keeps its one counter
 * (never reused) and is stored whole in the ring. Mirrors shared.bthome.advert_metrics. */
uint8_t pv_bthome_advert_present(uint32_t counter);

/* The objects of the advert with this counter: the whole reading when it fits
 * PV_BTHOME_ADVERT_OBJECTS_MAX, else the part pv_bthome_advert_present selects. */
pv_status_t pv_bthome_encode_advert_objects(const pv_reading_t *reading, uint32_t counter, uint8_t *out,
                                            size_t cap, size_t *out_len);

/* Encode the present fields as BTHome objects in ascending object-id order.
 * Returns PV_OK and sets *out_len; PV_ERR_RANGE when a value does not fit its object. */
pv_status_t pv_bthome_encode_objects(const pv_reading_t *reading, uint8_t *out, size_t cap,
                                     size_t *out_len);

/* Decode the Plant-Vita objects (ids 01, 02, 03, 05, 14, 56). Any other id, a repeated or
 * out-of-order id, or a truncated value is PV_ERR_MALFORMED; *reading is only written on success. */
pv_status_t pv_bthome_decode_objects(const uint8_t *in, size_t len, pv_reading_t *reading);

/* Build the 13-byte CCM nonce. mac is in display order (AA:BB:.. -> {0xAA, 0xBB, ..}). */
void pv_bthome_nonce(const uint8_t mac[6], uint8_t devinfo, uint32_t counter, uint8_t nonce[13]);

/* Service data (the bytes after the UUID): devinfo objects... (unencrypted, devinfo bit 0 clear). */
pv_status_t pv_bthome_service_data_plain(uint8_t devinfo, const uint8_t *objects, size_t objects_len,
                                         uint8_t *out, size_t cap, size_t *out_len);

/* Encrypted service data (after the UUID): devinfo|0x01 ciphertext counter(LE) MIC. */
pv_status_t pv_bthome_service_data_encrypt(const uint8_t key[16], const uint8_t mac[6],
                                           uint8_t devinfo, uint32_t counter,
                                           const uint8_t *objects, size_t objects_len,
                                           uint8_t *out, size_t cap, size_t *out_len);

/* The parsed form of a BTHome service data field. */
typedef struct {
    uint8_t devinfo;
    uint8_t encrypted;
    uint32_t counter;                /* valid when encrypted */
    uint8_t objects[PV_ADV_MAX_LEN]; /* decrypted objects */
    size_t objects_len;
} pv_bthome_frame_t;

/* Parse service data (the bytes after the UUID) the way a hub does (protocol.md 1.5): with a key,
 * only encrypted frames that authenticate are accepted (PV_ERR_AUTH for a wrong MIC and for a
 * plaintext downgrade); without one (key NULL), only plaintext frames. PV_ERR_UNSUPPORTED for a
 * BTHome version other than 2, PV_ERR_MALFORMED when too short. */
pv_status_t pv_bthome_service_data_parse(const uint8_t *in, size_t len, const uint8_t key[16],
                                         const uint8_t mac[6], pv_bthome_frame_t *frame);

/* Full legacy advertising data: Flags AD (LE General Discoverable, BR/EDR not supported) followed
 * by the Service Data AD (UUID 0xFCD2 then service_data). PV_ERR_NO_SPACE beyond 31 bytes. */
pv_status_t pv_adv_build(const uint8_t *service_data, size_t service_data_len, uint8_t *out,
                         size_t cap, size_t *out_len);

#endif
