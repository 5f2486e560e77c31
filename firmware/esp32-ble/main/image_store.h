/* JPEGs captured on camera boards, kept in the "images" flash partition until the hub fetched
 * and deleted them. Fixed slots: a 4 KiB header sector then up to CONFIG_PV_MAX_IMAGE_SIZE bytes.
 * The header (id, size, CRC32, epoch) is written after the data, so a capture cut by power loss
 * leaves a slot that is simply free. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "pv/pv_control.h"

esp_err_t image_store_init(void);

/* Slots available (0 on boards without the partition) and the largest storable image. */
size_t image_store_capacity(void);
uint32_t image_store_max_size(void);

/* Store a JPEG under a new id (1..65535, increasing); ESP_ERR_NO_MEM when every slot is used. */
esp_err_t image_store_put(const uint8_t *jpeg, size_t len, uint32_t epoch, pv_image_entry_t *entry);

/* Images with id > after_id in ascending order, at most max; *more says whether others follow. */
size_t image_store_list(uint16_t after_id, pv_image_entry_t *out, size_t max, int *more);

esp_err_t image_store_find(uint16_t id, pv_image_entry_t *entry);
esp_err_t image_store_read(uint16_t id, uint32_t offset, uint8_t *buf, size_t len);
esp_err_t image_store_delete(uint16_t id);

/* True when at least one image waits for the hub (scan-response IMAGE_READY bit). */
int image_store_has_images(void);
