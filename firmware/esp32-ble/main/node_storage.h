/* What the node keeps across deep sleep and power loss: NVS settings and the record ring. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "esp_err.h"
#include "pv/pv_calib.h"
#include "pv/pv_config.h"
#include "pv/pv_ring.h"

esp_err_t node_storage_init(void);

/* The next BTHome counter (= record seq), persisted *before* it is used: strictly increasing across
 * reboots even if the node dies mid-burst. floor is the highest seq known elsewhere (the ring). */
esp_err_t node_storage_next_counter(uint32_t floor, uint32_t *counter);

/* The 16-byte bindkey; *created is true when it was generated now (first boot). Must be called
 * after the radio is up, so esp_fill_random draws from the true RNG. */
esp_err_t node_storage_bindkey(uint8_t key[16], bool *created);

esp_err_t node_storage_load_config(pv_config_t *config);
esp_err_t node_storage_save_config(const pv_config_t *config);

esp_err_t node_storage_load_calibration(pv_moisture_calib_t *calib);
esp_err_t node_storage_save_calibration(const pv_moisture_calib_t *calib);

esp_err_t node_storage_get_u32(const char *key, uint32_t *value, uint32_t fallback);
esp_err_t node_storage_set_u32(const char *key, uint32_t value);

/* The record ring on the "records" partition (shared by app_main and the BLE worker; callers hold
 * node_storage_ring_lock around any use). */
pv_ring_t *node_storage_ring(void);
void node_storage_ring_lock(void);
void node_storage_ring_unlock(void);
