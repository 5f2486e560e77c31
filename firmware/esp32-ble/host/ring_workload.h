/* Deterministic record contents for the ring tests: every seq has exactly one possible record. */
#ifndef RING_WORKLOAD_H
#define RING_WORKLOAD_H

#include <stdint.h>
#include <string.h>

#include "pv/pv_ring.h"

static inline uint8_t workload_len(uint32_t seq)
{
    return (uint8_t)(seq % (PV_RING_MAX_DATA + 1u));
}

static inline uint32_t workload_epoch(uint32_t seq)
{
    return 1767225600u + seq * 600u;
}

static inline void workload_data(uint32_t seq, uint8_t *out)
{
    for (uint32_t i = 0; i < PV_RING_MAX_DATA; i++) {
        out[i] = (uint8_t)(seq * 31u + i * 7u + 1u);
    }
}

static inline pv_status_t workload_append(pv_ring_t *ring, uint32_t seq)
{
    uint8_t data[PV_RING_MAX_DATA];
    workload_data(seq, data);
    return pv_ring_append(ring, seq, workload_epoch(seq), data, workload_len(seq));
}

/* True when a record read back is exactly what workload_append stored for its seq. */
static inline int workload_matches(const pv_ring_record_t *rec)
{
    uint8_t data[PV_RING_MAX_DATA];
    workload_data(rec->seq, data);
    return rec->len == workload_len(rec->seq) && rec->epoch == workload_epoch(rec->seq) &&
           memcmp(rec->data, data, rec->len) == 0;
}

#endif
