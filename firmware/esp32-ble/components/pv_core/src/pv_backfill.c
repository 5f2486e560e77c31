#include "pv/pv_backfill.h"

#include <string.h>

#include "pv/pv_gatt.h"

void pv_backfill_start(pv_backfill_t *state, uint32_t since)
{
    memset(state, 0, sizeof(*state));
    state->since = since;
}

pv_status_t pv_backfill_next(pv_ring_t *ring, pv_backfill_t *state, uint8_t *out, size_t cap,
                             size_t *used)
{
    if (ring == NULL || state == NULL || out == NULL || used == NULL) {
        return PV_ERR_ARG;
    }
    *used = 0;
    for (;;) {
        if (!state->has_carry) {
            const pv_status_t st = pv_ring_next_pending(ring, &state->cursor, state->since, &state->carry);
            if (st == PV_ERR_NOT_FOUND) {
                return *used > 0u ? PV_OK : PV_ERR_NOT_FOUND;
            }
            if (st != PV_OK) {
                return st;
            }
            state->has_carry = 1;
        }
        const pv_status_t st = pv_records_append(out, cap, used, state->carry.seq, state->carry.epoch,
                                                 state->carry.data, state->carry.len);
        if (st == PV_ERR_NO_SPACE) {
            /* Full: the record opens the next notification, unless even alone it cannot fit. */
            return *used > 0u ? PV_OK : PV_ERR_NO_SPACE;
        }
        if (st != PV_OK) {
            return st;
        }
        state->has_carry = 0;
        state->count++;
        state->last_seq = state->carry.seq;
    }
}
