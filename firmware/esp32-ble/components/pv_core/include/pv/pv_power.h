/* How long a wake may last and what the button asked for: the parts of the node's power logic
 * that need no hardware, so the host tests pin them. */
#ifndef PV_POWER_H
#define PV_POWER_H

#include <stdbool.h>
#include <stdint.h>

#include "pv/pv_config.h"

/* The button: a short press (50 ms .. 5 s) opens pairing, a long one (>= 5 s) starts calibration.
 * It sits on a non-strapping, wake-capable GPIO, so a press wakes the sleeping node (no reset,
 * no download mode), and the node classifies the press that woke it. */
#define PV_BUTTON_DEBOUNCE_MS 50u
#define PV_BUTTON_LONG_MS 5000u
/* After a button wake, how long the node waits for the press to be seen before giving up. */
#define PV_BUTTON_WAIT_MS 300u

typedef enum {
    PV_BUTTON_NONE = 0,
    PV_BUTTON_PAIRING = 1,
    PV_BUTTON_CALIBRATION = 2,
} pv_button_action_t;

typedef struct {
    uint32_t waited_ms;
    uint32_t held_ms;
    uint32_t released_ms;
    bool decided;
    pv_button_action_t action;
} pv_button_t;

void pv_button_start(pv_button_t *button);

/* Feed one sample of the button (`pressed`), taken `step_ms` after the previous one. True once the
 * action is decided (then `button->action` holds it and further samples change nothing). */
bool pv_button_feed(pv_button_t *button, bool pressed, uint32_t step_ms);

/* The hard deadline of one wake, in ms: boot and measuring, the advert burst, the connectable (or
 * pairing) window, one hub session, a photo and, when asked for, the calibration procedure, plus
 * a margin. Past it the node sleeps whatever it is doing (a hung stack must not flatten the
 * battery); the task watchdog catches a main task that stops running long before. */
uint32_t pv_awake_deadline_ms(const pv_config_t *config, bool pairing, uint32_t pairing_window_s,
                              uint32_t session_timeout_s, bool has_camera, bool calibrating);

/* Budgets the deadline is built from (ms), public so the firmware and the tests agree. */
#define PV_AWAKE_BOOT_MEASURE_MS 3000u
#define PV_AWAKE_CAPTURE_MS 15000u
#define PV_AWAKE_CALIBRATION_MS 240000u /* two steps of at most 120 s each */
#define PV_AWAKE_MARGIN_MS 10000u

/* ATT transactions time out after 30 s (Core spec Vol 3 Part F 3.3.3): wait at least that long
 * for an indication's confirmation, plus a little for the link layer. */
#define PV_INDICATION_TIMEOUT_MS 31000u

#endif
