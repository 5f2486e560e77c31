#include "pv/pv_ring.h"

#include <string.h>

#include "pv/pv_bytes.h"
#include "pv/pv_crc32.h"

#define RING_MAGIC 0x42525650u /* "PVRB" little-endian */
#define SLOT_COMMITTED 0x5Au
#define SLOT_ACKED 0x00u
#define SLOT_FORMAT 0x01u
#define HDR_RETIRED 0x00u

/* Slot layout: commit(1) ack(1) len(1) format(1) seq(4) epoch(4) data(32) crc32(4) of bytes 2..43. */
#define SLOT_OFF_COMMIT 0u
#define SLOT_OFF_ACK 1u
#define SLOT_OFF_BODY 2u
#define SLOT_OFF_LEN 2u
#define SLOT_OFF_FORMAT 3u
#define SLOT_OFF_SEQ 4u
#define SLOT_OFF_EPOCH 8u
#define SLOT_OFF_DATA 12u
#define SLOT_OFF_CRC 44u

typedef enum { SLOT_BLANK, SLOT_GARBAGE, SLOT_VALID } slot_kind_t;

static uint32_t sector_addr(const pv_ring_t *ring, uint32_t sector)
{
    return sector * ring->ops->sector_size;
}

static uint32_t slot_addr(const pv_ring_t *ring, uint32_t sector, uint32_t slot)
{
    return sector_addr(ring, sector) + PV_RING_SECTOR_HEADER_SIZE + slot * PV_RING_SLOT_SIZE;
}

static uint32_t run_sector(const pv_ring_t *ring, uint32_t run_index)
{
    const uint32_t n = ring->ops->sector_count;
    return (ring->head_sector + n - (ring->run_len - 1u) + run_index) % n;
}

/* Reads a sector header; *live is set when it is intact and not retired. */
static pv_status_t read_header(const pv_ring_t *ring, uint32_t sector, int *live, uint32_t *sector_seq)
{
    uint8_t hdr[PV_RING_SECTOR_HEADER_SIZE];
    pv_status_t st = ring->ops->read(ring->ops->ctx, sector_addr(ring, sector), hdr, sizeof(hdr));
    if (st != PV_OK) {
        return st;
    }
    *live = pv_get_le32(hdr) == RING_MAGIC && pv_get_le32(&hdr[8]) == pv_crc32(hdr, 8u) &&
            hdr[12] == 0xFFu;
    *sector_seq = pv_get_le32(&hdr[4]);
    return PV_OK;
}

static pv_status_t read_slot(const pv_ring_t *ring, uint32_t sector, uint32_t slot,
                             slot_kind_t *kind, pv_ring_record_t *rec)
{
    uint8_t raw[PV_RING_SLOT_SIZE];
    pv_status_t st = ring->ops->read(ring->ops->ctx, slot_addr(ring, sector, slot), raw, sizeof(raw));
    if (st != PV_OK) {
        return st;
    }
    size_t blank = 0;
    while (blank < sizeof(raw) && raw[blank] == 0xFFu) {
        blank++;
    }
    if (blank == sizeof(raw)) {
        *kind = SLOT_BLANK;
        return PV_OK;
    }
    const uint32_t crc = pv_crc32(&raw[SLOT_OFF_BODY], SLOT_OFF_CRC - SLOT_OFF_BODY);
    if (raw[SLOT_OFF_COMMIT] != SLOT_COMMITTED || raw[SLOT_OFF_FORMAT] != SLOT_FORMAT ||
        raw[SLOT_OFF_LEN] > PV_RING_MAX_DATA || pv_get_le32(&raw[SLOT_OFF_CRC]) != crc) {
        *kind = SLOT_GARBAGE;
        return PV_OK;
    }
    *kind = SLOT_VALID;
    rec->seq = pv_get_le32(&raw[SLOT_OFF_SEQ]);
    rec->epoch = pv_get_le32(&raw[SLOT_OFF_EPOCH]);
    rec->len = raw[SLOT_OFF_LEN];
    memcpy(rec->data, &raw[SLOT_OFF_DATA], rec->len);
    rec->acked = (uint8_t)(raw[SLOT_OFF_ACK] != 0xFFu || rec->seq <= ring->acked_seq);
    return PV_OK;
}

static pv_status_t start_sector(pv_ring_t *ring, uint32_t sector, uint32_t sector_seq)
{
    pv_status_t st = ring->ops->erase(ring->ops->ctx, sector);
    if (st != PV_OK) {
        return st;
    }
    uint8_t hdr[12];
    pv_put_le32(hdr, RING_MAGIC);
    pv_put_le32(&hdr[4], sector_seq);
    pv_put_le32(&hdr[8], pv_crc32(hdr, 8u));
    return ring->ops->write(ring->ops->ctx, sector_addr(ring, sector), hdr, sizeof(hdr));
}

/* Retire (so a torn erase cannot bring it back) and erase one live sector. */
static pv_status_t retire_sector(pv_ring_t *ring, uint32_t sector)
{
    const uint8_t retired = HDR_RETIRED;
    pv_status_t st = ring->ops->write(ring->ops->ctx, sector_addr(ring, sector) + 12u, &retired, 1u);
    if (st != PV_OK) {
        return st;
    }
    return ring->ops->erase(ring->ops->ctx, sector);
}

pv_status_t pv_ring_open(pv_ring_t *ring, const pv_flash_ops_t *ops)
{
    if (ring == NULL || ops == NULL || ops->read == NULL || ops->write == NULL || ops->erase == NULL ||
        ops->sector_count < 2u || ops->sector_size < PV_RING_SECTOR_HEADER_SIZE + PV_RING_SLOT_SIZE) {
        return PV_ERR_ARG;
    }
    memset(ring, 0, sizeof(*ring));
    ring->ops = ops;
    ring->slots_per_sector = (ops->sector_size - PV_RING_SECTOR_HEADER_SIZE) / PV_RING_SLOT_SIZE;

    /* The newest live sector is the head; the run extends back while sequences are consecutive. */
    int found = 0;
    for (uint32_t s = 0; s < ops->sector_count; s++) {
        int live = 0;
        uint32_t sseq = 0;
        pv_status_t st = read_header(ring, s, &live, &sseq);
        if (st != PV_OK) {
            return st;
        }
        if (live && (!found || sseq > ring->head_sector_seq)) {
            found = 1;
            ring->head_sector = s;
            ring->head_sector_seq = sseq;
        }
    }
    if (!found) {
        ring->head_sector = 0;
        ring->head_sector_seq = 1;
        ring->run_len = 1;
        return start_sector(ring, 0, 1);
    }
    ring->run_len = 1;
    while (ring->run_len < ops->sector_count) {
        const uint32_t prev = (ring->head_sector + ops->sector_count - ring->run_len) % ops->sector_count;
        int live = 0;
        uint32_t sseq = 0;
        pv_status_t st = read_header(ring, prev, &live, &sseq);
        if (st != PV_OK) {
            return st;
        }
        if (!live || sseq != ring->head_sector_seq - ring->run_len) {
            break;
        }
        ring->run_len++;
    }

    /* Head slot: after the last non-blank slot (torn slots are never reprogrammed). */
    ring->head_slot = 0;
    for (uint32_t slot = 0; slot < ring->slots_per_sector; slot++) {
        slot_kind_t kind;
        pv_ring_record_t rec;
        pv_status_t st = read_slot(ring, ring->head_sector, slot, &kind, &rec);
        if (st != PV_OK) {
            return st;
        }
        if (kind != SLOT_BLANK) {
            ring->head_slot = slot + 1u;
        }
    }

    /* Watermarks: highest stored and highest acknowledged seq. */
    pv_ring_cursor_t cur = {0, 0};
    pv_ring_record_t rec;
    pv_status_t st;
    uint32_t acked = 0;
    while ((st = pv_ring_next(ring, &cur, &rec)) == PV_OK) {
        if (rec.seq > ring->last_seq) {
            ring->last_seq = rec.seq;
        }
        if (rec.acked && rec.seq > acked) {
            acked = rec.seq;
        }
    }
    ring->acked_seq = acked;
    return st == PV_ERR_NOT_FOUND ? PV_OK : st;
}

pv_status_t pv_ring_next(pv_ring_t *ring, pv_ring_cursor_t *cursor, pv_ring_record_t *record)
{
    if (ring == NULL || cursor == NULL || record == NULL) {
        return PV_ERR_ARG;
    }
    while (cursor->run_index < ring->run_len) {
        const uint32_t sector = run_sector(ring, cursor->run_index);
        const uint32_t limit =
            cursor->run_index + 1u == ring->run_len ? ring->head_slot : ring->slots_per_sector;
        while (cursor->slot < limit) {
            slot_kind_t kind;
            pv_status_t st = read_slot(ring, sector, cursor->slot, &kind, record);
            cursor->slot++;
            if (st != PV_OK) {
                return st;
            }
            if (kind == SLOT_VALID) {
                return PV_OK;
            }
        }
        cursor->run_index++;
        cursor->slot = 0;
    }
    return PV_ERR_NOT_FOUND;
}

pv_status_t pv_ring_next_pending(pv_ring_t *ring, pv_ring_cursor_t *cursor, uint32_t since,
                                 pv_ring_record_t *record)
{
    pv_status_t st;
    while ((st = pv_ring_next(ring, cursor, record)) == PV_OK) {
        if (!record->acked && record->seq >= since) {
            return PV_OK;
        }
    }
    return st;
}

pv_status_t pv_ring_pending(pv_ring_t *ring, uint32_t *count, uint32_t *first_seq,
                            uint32_t *last_seq)
{
    if (ring == NULL || count == NULL || first_seq == NULL || last_seq == NULL) {
        return PV_ERR_ARG;
    }
    *count = 0;
    *first_seq = 0;
    *last_seq = 0;
    pv_ring_cursor_t cur = {0, 0};
    pv_ring_record_t rec;
    pv_status_t st;
    while ((st = pv_ring_next_pending(ring, &cur, 0u, &rec)) == PV_OK) {
        if (*count == 0u) {
            *first_seq = rec.seq;
        }
        *last_seq = rec.seq;
        (*count)++;
    }
    return st == PV_ERR_NOT_FOUND ? PV_OK : st;
}

uint32_t pv_ring_capacity(const pv_ring_t *ring)
{
    return ring->slots_per_sector * ring->ops->sector_count;
}

/* Count the pending records of a live sector about to be overwritten. */
static pv_status_t count_dropped(pv_ring_t *ring, uint32_t sector)
{
    for (uint32_t slot = 0; slot < ring->slots_per_sector; slot++) {
        slot_kind_t kind;
        pv_ring_record_t rec;
        pv_status_t st = read_slot(ring, sector, slot, &kind, &rec);
        if (st != PV_OK) {
            return st;
        }
        if (kind == SLOT_VALID && !rec.acked) {
            ring->dropped_records++;
            if (rec.seq > ring->dropped_upto) {
                ring->dropped_upto = rec.seq;
            }
        }
    }
    return PV_OK;
}

static pv_status_t advance_head(pv_ring_t *ring)
{
    const uint32_t n = ring->ops->sector_count;
    const uint32_t next = (ring->head_sector + 1u) % n;
    pv_status_t st;
    if (ring->run_len == n) {
        /* Full: the oldest sector is the next one. Count what is lost before touching flash. */
        st = count_dropped(ring, next);
        if (st == PV_OK) {
            st = retire_sector(ring, next);
        }
        if (st != PV_OK) {
            return st;
        }
        ring->run_len--;
    }
    ring->head_sector = next;
    ring->head_sector_seq++;
    ring->head_slot = 0;
    ring->run_len++;
    /* From here the in-RAM state already points at the new sector; a failure leaves it unusable
     * until the next open, which is the behaviour we want after a flash error. */
    return start_sector(ring, next, ring->head_sector_seq);
}

pv_status_t pv_ring_append(pv_ring_t *ring, uint32_t seq, uint32_t epoch, const uint8_t *data,
                           size_t len)
{
    if (ring == NULL || ring->ops == NULL || (data == NULL && len > 0u)) {
        return PV_ERR_ARG;
    }
    if (len > PV_RING_MAX_DATA) {
        return PV_ERR_NO_SPACE;
    }
    if (seq == 0u || seq <= ring->last_seq) {
        return PV_ERR_RANGE;
    }
    pv_status_t st;
    if (ring->head_slot >= ring->slots_per_sector) {
        st = advance_head(ring);
        if (st != PV_OK) {
            return st;
        }
    }
    uint8_t raw[PV_RING_SLOT_SIZE];
    memset(raw, 0xFF, sizeof(raw));
    raw[SLOT_OFF_LEN] = (uint8_t)len;
    raw[SLOT_OFF_FORMAT] = SLOT_FORMAT;
    pv_put_le32(&raw[SLOT_OFF_SEQ], seq);
    pv_put_le32(&raw[SLOT_OFF_EPOCH], epoch);
    if (len > 0u) {
        memcpy(&raw[SLOT_OFF_DATA], data, len);
    }
    pv_put_le32(&raw[SLOT_OFF_CRC], pv_crc32(&raw[SLOT_OFF_BODY], SLOT_OFF_CRC - SLOT_OFF_BODY));

    const uint32_t addr = slot_addr(ring, ring->head_sector, ring->head_slot);
    ring->head_slot++; /* a torn slot is never reused */
    ring->last_seq = seq;
    st = ring->ops->write(ring->ops->ctx, addr + SLOT_OFF_BODY, &raw[SLOT_OFF_BODY],
                          PV_RING_SLOT_SIZE - SLOT_OFF_BODY);
    if (st != PV_OK) {
        return st;
    }
    const uint8_t commit = SLOT_COMMITTED;
    return ring->ops->write(ring->ops->ctx, addr + SLOT_OFF_COMMIT, &commit, 1u);
}

/* True when no record of the sector is pending. */
static pv_status_t sector_all_acked(pv_ring_t *ring, uint32_t sector, uint32_t slots, int *all)
{
    *all = 1;
    for (uint32_t slot = 0; slot < slots; slot++) {
        slot_kind_t kind;
        pv_ring_record_t rec;
        pv_status_t st = read_slot(ring, sector, slot, &kind, &rec);
        if (st != PV_OK) {
            return st;
        }
        if (kind == SLOT_VALID && !rec.acked) {
            *all = 0;
            return PV_OK;
        }
    }
    return PV_OK;
}

pv_status_t pv_ring_ack_upto(pv_ring_t *ring, uint32_t upto)
{
    if (ring == NULL || ring->ops == NULL) {
        return PV_ERR_ARG;
    }
    /* Ascending order keeps "highest acked seq" a valid watermark after a power cut. */
    for (uint32_t r = 0; r < ring->run_len; r++) {
        const uint32_t sector = run_sector(ring, r);
        const uint32_t limit = r + 1u == ring->run_len ? ring->head_slot : ring->slots_per_sector;
        for (uint32_t slot = 0; slot < limit; slot++) {
            slot_kind_t kind;
            pv_ring_record_t rec;
            pv_status_t st = read_slot(ring, sector, slot, &kind, &rec);
            if (st != PV_OK) {
                return st;
            }
            if (kind != SLOT_VALID || rec.seq > upto) {
                continue;
            }
            if (!rec.acked) {
                const uint8_t acked = SLOT_ACKED;
                st = ring->ops->write(ring->ops->ctx, slot_addr(ring, sector, slot) + SLOT_OFF_ACK,
                                      &acked, 1u);
                if (st != PV_OK) {
                    return st;
                }
            }
            if (rec.seq > ring->acked_seq) {
                ring->acked_seq = rec.seq;
            }
        }
    }
    /* Free fully acknowledged sectors from the oldest on, keeping the head sector. */
    while (ring->run_len > 1u) {
        const uint32_t oldest = run_sector(ring, 0);
        int all = 0;
        pv_status_t st = sector_all_acked(ring, oldest, ring->slots_per_sector, &all);
        if (st != PV_OK) {
            return st;
        }
        if (!all) {
            break;
        }
        st = retire_sector(ring, oldest);
        if (st != PV_OK) {
            return st;
        }
        ring->run_len--;
    }
    return PV_OK;
}
