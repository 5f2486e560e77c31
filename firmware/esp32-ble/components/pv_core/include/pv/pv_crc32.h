/* CRC-32 as zlib/PNG/Ethernet compute it (reflected polynomial 0xEDB88320, init and xorout 0xFFFFFFFF). */
#ifndef PV_CRC32_H
#define PV_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0, feed chunks in order; equals zlib.crc32(data, crc). */
uint32_t pv_crc32_update(uint32_t crc, const uint8_t *data, size_t len);

static inline uint32_t pv_crc32(const uint8_t *data, size_t len)
{
    return pv_crc32_update(0u, data, len);
}

#endif
