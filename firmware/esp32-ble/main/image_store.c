#include "image_store.h"

#include <string.h>

#include "esp_check.h"
#include "esp_log.h"
#include "esp_partition.h"
#include "node_storage.h"
#include "pv/pv_bytes.h"
#include "pv/pv_crc32.h"
#include "sdkconfig.h"

#define IMAGES_SUBTYPE 0x41
#define HEADER_SIZE 4096u
#define HEADER_MAGIC 0x47495650u /* "PVIG" */
#define HEADER_LEN 24u           /* magic id(2) pad(2) size crc epoch header_crc */
#define SLOT_STATE_OFFSET 32u    /* 0xFF: live, anything else: deleted */

#if CONFIG_PV_BOARD_HAS_CAMERA
#define MAX_IMAGE CONFIG_PV_MAX_IMAGE_SIZE
#else
#define MAX_IMAGE 0
#endif

static const char *TAG = "pv_images";

static const esp_partition_t *s_part;
static uint32_t s_slot_size;
static size_t s_slots;
static uint16_t s_last_id;

static uint32_t slot_addr(size_t slot)
{
    return (uint32_t)(slot * s_slot_size);
}

/* Reads a slot's header; ESP_ERR_NOT_FOUND when the slot is free or deleted. */
static esp_err_t read_header(size_t slot, pv_image_entry_t *e)
{
    uint8_t h[SLOT_STATE_OFFSET + 1u];
    ESP_RETURN_ON_ERROR(esp_partition_read(s_part, slot_addr(slot), h, sizeof(h)), TAG, "read");
    if (pv_get_le32(h) != HEADER_MAGIC || pv_get_le32(&h[20]) != pv_crc32(h, 20u) ||
        h[SLOT_STATE_OFFSET] != 0xFFu) {
        return ESP_ERR_NOT_FOUND;
    }
    e->image_id = pv_get_le16(&h[4]);
    e->size = pv_get_le32(&h[8]);
    e->crc32 = pv_get_le32(&h[12]);
    e->epoch = pv_get_le32(&h[16]);
    return e->size <= s_slot_size - HEADER_SIZE ? ESP_OK : ESP_ERR_NOT_FOUND;
}

static int find_slot(uint16_t id, pv_image_entry_t *e)
{
    for (size_t s = 0; s < s_slots; s++) {
        if (read_header(s, e) == ESP_OK && e->image_id == id) {
            return (int)s;
        }
    }
    return -1;
}

esp_err_t image_store_init(void)
{
    s_part = esp_partition_find_first(ESP_PARTITION_TYPE_DATA, IMAGES_SUBTYPE, "images");
    if (s_part == NULL || MAX_IMAGE == 0) {
        s_slots = 0;
        return ESP_OK;
    }
    s_slot_size = HEADER_SIZE + ((MAX_IMAGE + s_part->erase_size - 1u) / s_part->erase_size) * s_part->erase_size;
    s_slots = s_part->size / s_slot_size;
    /* The last id is persisted: after every image was fetched and deleted, a new capture must
     * still get a new id, or a hub resuming "image 3 at offset N" would splice two pictures. */
    uint32_t last = 0;
    ESP_RETURN_ON_ERROR(node_storage_get_u32("img_id", &last, 0), TAG, "last id");
    s_last_id = (uint16_t)last;
    for (size_t s = 0; s < s_slots; s++) {
        pv_image_entry_t e;
        if (read_header(s, &e) == ESP_OK && e.image_id > s_last_id) {
            s_last_id = e.image_id;
        }
    }
    ESP_LOGI(TAG, "%u image slots of %u bytes, last id %u", (unsigned)s_slots, (unsigned)MAX_IMAGE,
             s_last_id);
    return ESP_OK;
}

size_t image_store_capacity(void)
{
    return s_slots;
}

uint32_t image_store_max_size(void)
{
    return s_slots > 0 ? MAX_IMAGE : 0u;
}

esp_err_t image_store_put(const uint8_t *jpeg, size_t len, uint32_t epoch, pv_image_entry_t *entry)
{
    if (len == 0 || len > image_store_max_size()) {
        return ESP_ERR_INVALID_SIZE;
    }
    int free_slot = -1;
    for (size_t s = 0; s < s_slots && free_slot < 0; s++) {
        pv_image_entry_t e;
        if (read_header(s, &e) == ESP_ERR_NOT_FOUND) {
            free_slot = (int)s;
        }
    }
    if (free_slot < 0) {
        return ESP_ERR_NO_MEM;
    }
    /* Ids run 1..65535 and then wrap to 1; by then the hub has long deleted the old ones. */
    const uint16_t id = s_last_id == 0xFFFFu ? 1u : (uint16_t)(s_last_id + 1u);
    ESP_RETURN_ON_ERROR(node_storage_set_u32("img_id", id), TAG, "persist id");
    const uint32_t base = slot_addr((size_t)free_slot);
    const size_t data_span = ((len + s_part->erase_size - 1u) / s_part->erase_size) * s_part->erase_size;
    ESP_RETURN_ON_ERROR(esp_partition_erase_range(s_part, base, HEADER_SIZE + data_span), TAG, "erase");
    ESP_RETURN_ON_ERROR(esp_partition_write(s_part, base + HEADER_SIZE, jpeg, len), TAG, "data");

    uint8_t h[HEADER_LEN];
    pv_put_le32(h, HEADER_MAGIC);
    pv_put_le16(&h[4], id);
    h[6] = 0xFF;
    h[7] = 0xFF;
    pv_put_le32(&h[8], (uint32_t)len);
    pv_put_le32(&h[12], pv_crc32(jpeg, len));
    pv_put_le32(&h[16], epoch);
    pv_put_le32(&h[20], pv_crc32(h, 20u));
    ESP_RETURN_ON_ERROR(esp_partition_write(s_part, base, h, sizeof(h)), TAG, "header");
    s_last_id = id;
    entry->image_id = id;
    entry->size = (uint32_t)len;
    entry->crc32 = pv_get_le32(&h[12]);
    entry->epoch = epoch;
    return ESP_OK;
}

size_t image_store_list(uint16_t after_id, pv_image_entry_t *out, size_t max, int *more)
{
    /* Few slots: a selection sort by id over the headers is plenty. */
    size_t n = 0;
    uint16_t floor = after_id;
    *more = 0;
    for (;;) {
        pv_image_entry_t best = {0};
        for (size_t s = 0; s < s_slots; s++) {
            pv_image_entry_t e;
            if (read_header(s, &e) == ESP_OK && e.image_id > floor &&
                (best.image_id == 0u || e.image_id < best.image_id)) {
                best = e;
            }
        }
        if (best.image_id == 0u) {
            return n;
        }
        if (n == max) {
            *more = 1;
            return n;
        }
        out[n++] = best;
        floor = best.image_id;
    }
}

esp_err_t image_store_find(uint16_t id, pv_image_entry_t *entry)
{
    return find_slot(id, entry) >= 0 ? ESP_OK : ESP_ERR_NOT_FOUND;
}

esp_err_t image_store_read(uint16_t id, uint32_t offset, uint8_t *buf, size_t len)
{
    pv_image_entry_t e;
    const int slot = find_slot(id, &e);
    if (slot < 0) {
        return ESP_ERR_NOT_FOUND;
    }
    if (offset > e.size || e.size - offset < len) {
        return ESP_ERR_INVALID_SIZE;
    }
    return esp_partition_read(s_part, slot_addr((size_t)slot) + HEADER_SIZE + offset, buf, len);
}

esp_err_t image_store_delete(uint16_t id)
{
    pv_image_entry_t e;
    const int slot = find_slot(id, &e);
    if (slot < 0) {
        return ESP_ERR_NOT_FOUND;
    }
    /* Programming one byte is enough to free the slot; the erase happens at the next capture. */
    const uint8_t deleted = 0x00;
    return esp_partition_write(s_part, slot_addr((size_t)slot) + SLOT_STATE_OFFSET, &deleted, 1);
}

int image_store_has_images(void)
{
    int more = 0;
    pv_image_entry_t e;
    return image_store_list(0, &e, 1, &more) > 0;
}
