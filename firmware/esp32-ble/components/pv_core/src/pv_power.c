#include "pv/pv_power.h"

#include <stddef.h>

void pv_button_start(pv_button_t *button)
{
    if (button == NULL) {
        return;
    }
    button->waited_ms = 0;
    button->held_ms = 0;
    button->released_ms = 0;
    button->decided = false;
    button->action = PV_BUTTON_NONE;
}

static bool decide(pv_button_t *button, pv_button_action_t action)
{
    button->decided = true;
    button->action = action;
    return true;
}

bool pv_button_feed(pv_button_t *button, bool pressed, uint32_t step_ms)
{
    if (button == NULL) {
        return true;
    }
    if (button->decided) {
        return true;
    }
    if (pressed) {
        button->held_ms += step_ms;
        button->released_ms = 0;
        return button->held_ms >= PV_BUTTON_LONG_MS ? decide(button, PV_BUTTON_CALIBRATION) : false;
    }
    if (button->held_ms == 0u) {
        button->waited_ms += step_ms;
        return button->waited_ms >= PV_BUTTON_WAIT_MS ? decide(button, PV_BUTTON_NONE) : false;
    }
    button->released_ms += step_ms;
    if (button->released_ms < PV_BUTTON_DEBOUNCE_MS) {
        return false; /* contact bounce: the press may go on */
    }
    if (button->held_ms < PV_BUTTON_DEBOUNCE_MS) {
        /* A glitch, not a press: keep waiting for a real one within the window. */
        button->waited_ms += button->held_ms + button->released_ms;
        button->held_ms = 0;
        button->released_ms = 0;
        return button->waited_ms >= PV_BUTTON_WAIT_MS ? decide(button, PV_BUTTON_NONE) : false;
    }
    return decide(button, PV_BUTTON_PAIRING);
}

uint32_t pv_awake_deadline_ms(const pv_config_t *config, bool pairing, uint32_t pairing_window_s,
                              uint32_t session_timeout_s, bool has_camera, bool calibrating)
{
    pv_config_t defaults;
    if (config == NULL) {
        pv_config_defaults(&defaults);
        config = &defaults;
    }
    uint64_t ms = PV_AWAKE_BOOT_MEASURE_MS + PV_AWAKE_MARGIN_MS;
    ms += (uint64_t)config->advert_burst_count * config->advert_burst_interval_ms;
    ms += (uint64_t)(pairing ? pairing_window_s : config->connectable_window_s) * 1000u;
    ms += (uint64_t)session_timeout_s * 1000u;
    if (has_camera) {
        ms += PV_AWAKE_CAPTURE_MS;
    }
    if (calibrating) {
        ms += PV_AWAKE_CALIBRATION_MS;
    }
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}
