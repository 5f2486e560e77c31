/* REPORT_SINCE: pack pending records from the ring into Records notifications (protocol.md 3.5),
 * whole records only, oldest first, none skipped or repeated; counts what was sent for the
 * end-of-records indication. Kept out of the BLE glue so it is tested on the host. */
#ifndef PV_BACKFILL_H
#define PV_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

#include "pv/pv_ring.h"
#include "pv/pv_status.h"

typedef struct {
    pv_ring_cursor_t cursor;
    uint32_t since;
    uint32_t count;    /* records placed in notifications so far */
    uint32_t last_seq; /* seq of the last one (0 when none) */
    int has_carry;     /* a record read but not yet placed: it opens the next notification */
    pv_ring_record_t carry;
} pv_backfill_t;

void pv_backfill_start(pv_backfill_t *state, uint32_t since);

/* Fill out[0..cap) with as many whole pending records as fit. PV_OK with *used > 0: send it and
 * call again. PV_ERR_NOT_FOUND: nothing left (*used == 0). PV_ERR_NO_SPACE: the next record does not
 * fit even alone (ATT payload too small; it stays queued). Ring errors are passed through. */
pv_status_t pv_backfill_next(pv_ring_t *ring, pv_backfill_t *state, uint8_t *out, size_t cap,
                             size_t *used);

#endif
