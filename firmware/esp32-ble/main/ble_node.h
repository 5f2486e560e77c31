/* NimBLE glue: BTHome advertising, the Plant-Vita GATT service (protocol.md 3), Battery and
 * Device Information services, LE Secure Connections bonding. Wire formats come from pv_core. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "pv/pv_config.h"
#include "pv/pv_gatt.h"

/* What the BLE layer needs from the application. */
typedef struct {
    pv_info_t info;
    uint8_t battery_pct;
    /* Current config; a valid Config write replaces it and calls config_changed. */
    pv_config_t *config;
    esp_err_t (*config_changed)(const pv_config_t *config);
    void (*time_changed)(uint32_t epoch);
    /* Scan-response status bits as of now (PV_STATUS_*). */
    uint8_t (*status)(void);
} ble_node_app_t;

/* Initialise NimBLE and the GATT database, wait for host/controller sync. */
esp_err_t ble_node_start(const ble_node_app_t *app);

/* The public address in display order (AA:BB:.. -> {0xAA, 0xBB, ..}), as in the BTHome nonce. */
void ble_node_mac(uint8_t mac[6]);

/* Accept new bonds (pairing window) or only already bonded hubs. */
void ble_node_allow_pairing(bool allow);

/* One BTHome burst: `count` advertising events `interval_ms` apart, scannable, not connectable. */
esp_err_t ble_node_burst(const uint8_t *adv, size_t adv_len, uint8_t count, uint16_t interval_ms);

/* Advertise the same data connectable for window_s. Returns when the window ends without a
 * connection, or when a connection ends (or exceeds CONFIG_PV_SESSION_TIMEOUT_S). */
esp_err_t ble_node_connectable_window(const uint8_t *adv, size_t adv_len, uint32_t window_s);

/* Refresh the scan response (name + status byte). */
esp_err_t ble_node_update_scan_response(void);

/* Shut the stack down before deep sleep. */
void ble_node_stop(void);
