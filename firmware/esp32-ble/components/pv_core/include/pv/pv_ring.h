/* Record ring buffer in raw NOR flash: readings stored while the hub is away, freed by ACK_UPTO.
 *
 * Flash is split into sectors (erase units). Each sector starts with a 16-byte header
 * (magic, sector sequence, CRC, retired flag) followed by fixed 48-byte record slots. The live
 * sectors form a circular run of consecutive sector sequences; appends go to the newest.
 *
 * Power-loss safety relies only on NOR semantics (erase sets 0xFF, program clears bits):
 *  - a record becomes visible only when its commit byte is programmed, after its body and CRC;
 *    a torn body or a torn commit byte fails the check and the slot is skipped, never reused;
 *  - a sector is marked retired before it is erased, so a torn erase never resurrects it;
 *  - a sector header is programmed in one step with its own CRC; a torn header is a free sector.
 * Acknowledgement programs a per-record ack byte in ascending seq order, so the highest acked seq
 * found at open is a watermark below which everything counts as acknowledged. */
#ifndef PV_RING_H
#define PV_RING_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_status.h"

#define PV_RING_SECTOR_HEADER_SIZE 16u
#define PV_RING_SLOT_SIZE 48u
#define PV_RING_MAX_DATA 32u

/* Flash access; addresses are offsets inside the ring's partition. Any error is reported as is. */
typedef struct {
    void *ctx;
    uint32_t sector_size;  /* erase unit in bytes, e.g. 4096 */
    uint32_t sector_count; /* at least 2 */
    pv_status_t (*read)(void *ctx, uint32_t addr, void *buf, size_t len);
    pv_status_t (*write)(void *ctx, uint32_t addr, const void *buf, size_t len);
    pv_status_t (*erase)(void *ctx, uint32_t sector);
} pv_flash_ops_t;

typedef struct {
    uint32_t seq;   /* measurement sequence number (the BTHome counter) */
    uint32_t epoch; /* UTC seconds, 0 when the node had no time yet */
    uint8_t len;
    uint8_t data[PV_RING_MAX_DATA]; /* BTHome objects */
    uint8_t acked;
} pv_ring_record_t;

typedef struct {
    uint32_t run_index; /* 0 = oldest live sector */
    uint32_t slot;
} pv_ring_cursor_t;

typedef struct {
    const pv_flash_ops_t *ops;
    uint32_t slots_per_sector;
    uint32_t head_sector;     /* physical index of the newest sector */
    uint32_t head_slot;       /* next free slot in it */
    uint32_t head_sector_seq; /* its sector sequence */
    uint32_t run_len;         /* live sectors, ending at head_sector */
    uint32_t last_seq;        /* highest record seq stored (0 = none) */
    uint32_t acked_seq;       /* acknowledgement watermark */
    uint32_t dropped_records; /* unacknowledged records overwritten because the ring was full */
    uint32_t dropped_upto;    /* highest seq among them */
} pv_ring_t;

/* Recover the ring from flash (formatting it when no live sector exists). */
pv_status_t pv_ring_open(pv_ring_t *ring, const pv_flash_ops_t *ops);

/* Store a record. seq must be greater than every seq stored before (PV_ERR_RANGE otherwise). When
 * the ring is full, the oldest sector is overwritten and its pending records are counted dropped. */
pv_status_t pv_ring_append(pv_ring_t *ring, uint32_t seq, uint32_t epoch, const uint8_t *data,
                           size_t len);

/* Mark every record with seq <= upto acknowledged and erase sectors that hold nothing pending. */
pv_status_t pv_ring_ack_upto(pv_ring_t *ring, uint32_t upto);

/* Iterate visible records oldest first, starting from a zeroed cursor. PV_ERR_NOT_FOUND at end. */
pv_status_t pv_ring_next(pv_ring_t *ring, pv_ring_cursor_t *cursor, pv_ring_record_t *record);

/* Next pending (unacknowledged) record with seq >= since. PV_ERR_NOT_FOUND at end. */
pv_status_t pv_ring_next_pending(pv_ring_t *ring, pv_ring_cursor_t *cursor, uint32_t since,
                                 pv_ring_record_t *record);

/* Number of pending records and the seq range they span (0, 0 when none). */
pv_status_t pv_ring_pending(pv_ring_t *ring, uint32_t *count, uint32_t *first_seq,
                            uint32_t *last_seq);

/* Records the ring can hold at most. */
uint32_t pv_ring_capacity(const pv_ring_t *ring);

#endif
