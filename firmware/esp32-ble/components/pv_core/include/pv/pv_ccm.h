/* AES-128-CCM with a 13-byte nonce and 4-byte tag, as BTHome v2 encryption uses it.
 * The only pv_core unit that includes mbedTLS (mbedtls/ccm.h, shipped by ESP-IDF and by Debian). */
#ifndef PV_CCM_H
#define PV_CCM_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

#define PV_CCM_KEY_LEN 16u
#define PV_CCM_NONCE_LEN 13u
#define PV_CCM_TAG_LEN 4u

/* Encrypt len bytes of plain into cipher (may alias) and write the 4-byte tag. No associated data. */
pv_status_t pv_ccm_encrypt(const uint8_t key[PV_CCM_KEY_LEN], const uint8_t nonce[PV_CCM_NONCE_LEN],
                           const uint8_t *plain, size_t len, uint8_t *cipher,
                           uint8_t tag[PV_CCM_TAG_LEN]);

/* Decrypt and verify; PV_ERR_AUTH when the tag does not match (plain is then zeroed). */
pv_status_t pv_ccm_decrypt(const uint8_t key[PV_CCM_KEY_LEN], const uint8_t nonce[PV_CCM_NONCE_LEN],
                           const uint8_t *cipher, size_t len, const uint8_t tag[PV_CCM_TAG_LEN],
                           uint8_t *plain);

#endif
