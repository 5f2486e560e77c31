#include "pv/pv_ccm.h"

#include <string.h>

#include "mbedtls/ccm.h"

pv_status_t pv_ccm_encrypt(const uint8_t key[PV_CCM_KEY_LEN], const uint8_t nonce[PV_CCM_NONCE_LEN],
                           const uint8_t *plain, size_t len, uint8_t *cipher,
                           uint8_t tag[PV_CCM_TAG_LEN])
{
    if (key == NULL || nonce == NULL || tag == NULL || (len > 0u && (plain == NULL || cipher == NULL))) {
        return PV_ERR_ARG;
    }
    mbedtls_ccm_context ctx;
    mbedtls_ccm_init(&ctx);
    int rc = mbedtls_ccm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (rc == 0) {
        rc = mbedtls_ccm_encrypt_and_tag(&ctx, len, nonce, PV_CCM_NONCE_LEN, NULL, 0, plain, cipher,
                                         tag, PV_CCM_TAG_LEN);
    }
    mbedtls_ccm_free(&ctx);
    return rc == 0 ? PV_OK : PV_ERR_CRYPTO;
}

pv_status_t pv_ccm_decrypt(const uint8_t key[PV_CCM_KEY_LEN], const uint8_t nonce[PV_CCM_NONCE_LEN],
                           const uint8_t *cipher, size_t len, const uint8_t tag[PV_CCM_TAG_LEN],
                           uint8_t *plain)
{
    if (key == NULL || nonce == NULL || tag == NULL || (len > 0u && (plain == NULL || cipher == NULL))) {
        return PV_ERR_ARG;
    }
    mbedtls_ccm_context ctx;
    mbedtls_ccm_init(&ctx);
    int rc = mbedtls_ccm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 128);
    if (rc == 0) {
        rc = mbedtls_ccm_auth_decrypt(&ctx, len, nonce, PV_CCM_NONCE_LEN, NULL, 0, cipher, plain, tag,
                                      PV_CCM_TAG_LEN);
        if (rc == MBEDTLS_ERR_CCM_AUTH_FAILED) {
            mbedtls_ccm_free(&ctx);
            return PV_ERR_AUTH;
        }
    }
    mbedtls_ccm_free(&ctx);
    return rc == 0 ? PV_OK : PV_ERR_CRYPTO;
}
