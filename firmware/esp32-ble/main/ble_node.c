#include "ble_node.h"

#include <string.h>
#include <time.h>

#include "esp_check.h"
#include "esp_log.h"
#include "esp_task_wdt.h"
#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "host/ble_hs.h"
#include "host/util/util.h"
#include "image_store.h"
#include "nimble/nimble_port.h"
#include "nimble/nimble_port_freertos.h"
#include "node_storage.h"
#include "pv/pv_backfill.h"
#include "pv/pv_control.h"
#include "pv/pv_power.h"
#include "pv/pv_ring.h"
#include "sdkconfig.h"
#include "services/gap/ble_svc_gap.h"
#include "services/gatt/ble_svc_gatt.h"
#if CONFIG_PV_BOARD_HAS_CAMERA
#include "camera.h"
#endif

/* Provided by NimBLE's store/config, not declared in a public header of the ESP-IDF port. */
void ble_store_config_init(void);

#ifndef BLE_ATT_ERR_VALUE_NOT_ALLOWED
#define BLE_ATT_ERR_VALUE_NOT_ALLOWED 0x13
#endif

static const char *TAG = "pv_ble";

#define EV_SYNCED BIT0
#define EV_ADV_DONE BIT1
#define EV_CONNECTED BIT2
#define EV_DISCONNECTED BIT3
#define EV_INDICATION_DONE BIT4

/* BLE_ATT_ERR_CCCD_IMPROPER: a Control Point request whose answer would go to a characteristic the
 * hub has not subscribed to (Core spec Supplement, common profile error 0xFD). */
#define ATT_ERR_CCCD_IMPROPER 0xFD
/* Longest wait on the stack before the main task's watchdog is fed again. */
#define WAIT_SLICE_MS 2000
#define NOTIFY_RETRY_MS 10
#define NOTIFY_RETRIES 200
#define CP_QUEUE_LEN 4

static ble_node_app_t s_app;
static EventGroupHandle_t s_events;
static QueueHandle_t s_cp_queue;
static uint8_t s_own_addr_type;
static uint8_t s_mac[6];
static char s_name[10];
static volatile uint16_t s_conn = BLE_HS_CONN_HANDLE_NONE;
static volatile int s_indication_status;
/* What the connected hub subscribed to (CCCDs); reset on every connection. */
static volatile bool s_cp_indications;
static volatile bool s_records_notifications;
static volatile bool s_image_notifications;

static uint16_t s_info_handle;
static uint16_t s_config_handle;
static uint16_t s_cp_handle;
static uint16_t s_records_handle;
static uint16_t s_image_handle;
static uint16_t s_battery_handle;

/* A Control Point write as queued for the worker: a parsed request, or an error to report. */
typedef struct {
    pv_cp_request_t req;
    pv_cp_status_t parse_status;
} cp_item_t;

static const ble_uuid128_t k_uuid_service = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x01, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_info = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x02, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_config = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x03, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_time = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x04, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_cp = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x05, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_records = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x06, 0x00, 0x56, 0x50);
static const ble_uuid128_t k_uuid_image = BLE_UUID128_INIT(
    0x56, 0x39, 0x15, 0x13, 0x1a, 0x31, 0x6b, 0xb3, 0x35, 0x46, 0xd6, 0x08, 0x07, 0x00, 0x56, 0x50);

/* ---------------------------------------------------------------- security */

/* Writes need an encrypted link to a bonded hub; SC-only pairing is enforced by sdkconfig
 * (legacy pairing compiled out), so a bonded, encrypted link is an LE Secure Connections bond. */
static bool link_is_bonded(uint16_t conn)
{
    struct ble_gap_conn_desc desc;
    return ble_gap_conn_find(conn, &desc) == 0 && desc.sec_state.encrypted && desc.sec_state.bonded;
}

void ble_node_allow_pairing(bool allow)
{
    ble_hs_cfg.sm_bonding = allow ? 1 : 0;
}

/* ---------------------------------------------------------------- GATT access */

static int append_value(struct ble_gatt_access_ctxt *ctxt, const uint8_t *value, size_t len)
{
    return os_mbuf_append(ctxt->om, value, len) == 0 ? 0 : BLE_ATT_ERR_INSUFFICIENT_RES;
}

/* Copies a write (possibly chained mbufs) into buf; BLE_ATT_ERR_INVALID_ATTR_VALUE_LEN if too long. */
static int flatten_write(struct ble_gatt_access_ctxt *ctxt, uint8_t *buf, size_t cap, uint16_t *len)
{
    const uint16_t n = OS_MBUF_PKTLEN(ctxt->om);
    if (n > cap) {
        return BLE_ATT_ERR_INVALID_ATTR_VALUE_LEN;
    }
    return ble_hs_mbuf_to_flat(ctxt->om, buf, (uint16_t)cap, len) == 0 ? 0 : BLE_ATT_ERR_UNLIKELY;
}

static int access_info(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)conn;
    (void)attr;
    (void)arg;
    uint8_t buf[PV_INFO_MAX_LEN];
    size_t len = 0;
    if (pv_info_encode(&s_app.info, buf, sizeof(buf), &len) != PV_OK) {
        return BLE_ATT_ERR_UNLIKELY;
    }
    return append_value(ctxt, buf, len);
}

static int access_config(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)attr;
    (void)arg;
    uint8_t buf[PV_CONFIG_MAX_LEN + 64u]; /* room for TLVs of later protocol versions */
    size_t len = 0;
    if (ctxt->op == BLE_GATT_ACCESS_OP_READ_CHR) {
        if (pv_config_encode(s_app.config, buf, sizeof(buf), &len) != PV_OK) {
            return BLE_ATT_ERR_UNLIKELY;
        }
        return append_value(ctxt, buf, len);
    }
    if (!link_is_bonded(conn)) {
        return BLE_ATT_ERR_INSUFFICIENT_AUTHEN;
    }
    uint16_t n = 0;
    int rc = flatten_write(ctxt, buf, sizeof(buf), &n);
    if (rc != 0) {
        return rc;
    }
    pv_config_t next;
    if (pv_config_decode(buf, n, &next) != PV_OK) {
        ESP_LOGW(TAG, "config write refused");
        return BLE_ATT_ERR_VALUE_NOT_ALLOWED; /* protocol.md 3.2: old config kept */
    }
    *s_app.config = next;
    if (s_app.config_changed(&next) != ESP_OK) {
        return BLE_ATT_ERR_UNLIKELY;
    }
    ESP_LOGI(TAG, "config revision %u applied", (unsigned)next.revision);
    return 0;
}

static int access_time(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)attr;
    (void)arg;
    if (!link_is_bonded(conn)) {
        return BLE_ATT_ERR_INSUFFICIENT_AUTHEN;
    }
    uint8_t buf[4];
    uint16_t n = 0;
    int rc = flatten_write(ctxt, buf, sizeof(buf), &n);
    if (rc != 0) {
        return rc;
    }
    uint32_t epoch = 0;
    const pv_status_t st = pv_time_decode(buf, n, &epoch);
    if (st == PV_ERR_MALFORMED) {
        return BLE_ATT_ERR_INVALID_ATTR_VALUE_LEN;
    }
    if (st != PV_OK) {
        return BLE_ATT_ERR_VALUE_NOT_ALLOWED;
    }
    s_app.time_changed(epoch);
    return 0;
}

static int access_cp(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)attr;
    (void)arg;
    if (!link_is_bonded(conn)) {
        return BLE_ATT_ERR_INSUFFICIENT_AUTHEN;
    }
    /* The longest request is 7 bytes; anything that fits here is answered by an indication
     * (INVALID_PARAMETER if malformed), only absurdly long writes get an ATT error. */
    uint8_t buf[64];
    uint16_t n = 0;
    int rc = flatten_write(ctxt, buf, sizeof(buf), &n);
    if (rc != 0) {
        return rc;
    }
    /* Every request gets exactly one indication, so malformed ones are queued too. */
    cp_item_t item;
    pv_cp_request_decode(buf, n, &item.req, &item.parse_status);
    /* Answers nobody would receive: refuse at ATT level instead of sending into the void. */
    if (!s_cp_indications ||
        (item.parse_status == PV_CP_SUCCESS && item.req.opcode == PV_OP_REPORT_SINCE && !s_records_notifications) ||
        (item.parse_status == PV_CP_SUCCESS && item.req.opcode == PV_OP_IMG_GET && !s_image_notifications)) {
        return ATT_ERR_CCCD_IMPROPER;
    }
    if (xQueueSend(s_cp_queue, &item, 0) != pdTRUE) {
        /* A hub that floods requests without waiting for indications: tell it at ATT level. */
        return BLE_ATT_ERR_PREPARE_QUEUE_FULL;
    }
    return 0;
}

static int access_notify_only(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt,
                              void *arg)
{
    (void)conn;
    (void)attr;
    (void)ctxt;
    (void)arg;
    return BLE_ATT_ERR_READ_NOT_PERMITTED;
}

static int access_battery(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)conn;
    (void)attr;
    (void)arg;
    return append_value(ctxt, &s_app.battery_pct, 1);
}

static int access_dis(uint16_t conn, uint16_t attr, struct ble_gatt_access_ctxt *ctxt, void *arg)
{
    (void)conn;
    (void)attr;
    const char *text = arg;
    return append_value(ctxt, (const uint8_t *)text, strlen(text));
}

static const struct ble_gatt_svc_def k_services[] = {
    {
        .type = BLE_GATT_SVC_TYPE_PRIMARY,
        .uuid = &k_uuid_service.u,
        .characteristics =
            (struct ble_gatt_chr_def[]){
                {.uuid = &k_uuid_info.u,
                 .access_cb = access_info,
                 .flags = BLE_GATT_CHR_F_READ,
                 .val_handle = &s_info_handle},
                {.uuid = &k_uuid_config.u,
                 .access_cb = access_config,
                 .flags = BLE_GATT_CHR_F_READ | BLE_GATT_CHR_F_WRITE | BLE_GATT_CHR_F_WRITE_ENC,
                 .val_handle = &s_config_handle},
                {.uuid = &k_uuid_time.u,
                 .access_cb = access_time,
                 .flags = BLE_GATT_CHR_F_WRITE | BLE_GATT_CHR_F_WRITE_ENC},
                {.uuid = &k_uuid_cp.u,
                 .access_cb = access_cp,
                 .flags = BLE_GATT_CHR_F_WRITE | BLE_GATT_CHR_F_WRITE_ENC | BLE_GATT_CHR_F_INDICATE,
                 .val_handle = &s_cp_handle},
                {.uuid = &k_uuid_records.u,
                 .access_cb = access_notify_only,
                 .flags = BLE_GATT_CHR_F_NOTIFY,
                 .val_handle = &s_records_handle},
                {.uuid = &k_uuid_image.u,
                 .access_cb = access_notify_only,
                 .flags = BLE_GATT_CHR_F_NOTIFY,
                 .val_handle = &s_image_handle},
                {0},
            },
    },
    {
        .type = BLE_GATT_SVC_TYPE_PRIMARY,
        .uuid = BLE_UUID16_DECLARE(0x180F),
        .characteristics =
            (struct ble_gatt_chr_def[]){
                {.uuid = BLE_UUID16_DECLARE(0x2A19),
                 .access_cb = access_battery,
                 .flags = BLE_GATT_CHR_F_READ | BLE_GATT_CHR_F_NOTIFY,
                 .val_handle = &s_battery_handle},
                {0},
            },
    },
    {
        .type = BLE_GATT_SVC_TYPE_PRIMARY,
        .uuid = BLE_UUID16_DECLARE(0x180A),
        .characteristics =
            (struct ble_gatt_chr_def[]){
                {.uuid = BLE_UUID16_DECLARE(0x2A29),
                 .access_cb = access_dis,
                 .arg = (void *)"Plant-Vita",
                 .flags = BLE_GATT_CHR_F_READ},
                {.uuid = BLE_UUID16_DECLARE(0x2A24),
                 .access_cb = access_dis,
#if CONFIG_PV_BOARD_HAS_CAMERA
                 .arg = (void *)"PV-Node-S3-Cam",
#else
                 .arg = (void *)"PV-Node-C3",
#endif
                 .flags = BLE_GATT_CHR_F_READ},
                {.uuid = BLE_UUID16_DECLARE(0x2A26),
                 .access_cb = access_dis,
                 .arg = (void *)CONFIG_PV_FIRMWARE_VERSION,
                 .flags = BLE_GATT_CHR_F_READ},
                {0},
            },
    },
    {0},
};

/* ---------------------------------------------------------------- Control Point worker */

static uint16_t att_payload(void)
{
    const uint16_t mtu = ble_att_mtu(s_conn);
    return mtu > 3u ? (uint16_t)(mtu - 3u) : 20u;
}

/* Notification with back-pressure: NimBLE runs out of mbufs long before the link does. */
static bool notify(uint16_t handle, const uint8_t *data, size_t len)
{
    for (int attempt = 0; attempt < NOTIFY_RETRIES && s_conn != BLE_HS_CONN_HANDLE_NONE; attempt++) {
        struct os_mbuf *om = ble_hs_mbuf_from_flat(data, (uint16_t)len);
        if (om != NULL) {
            const int rc = ble_gatts_notify_custom(s_conn, handle, om); /* consumes om */
            if (rc == 0) {
                return true;
            }
            if (rc != BLE_HS_ENOMEM) {
                ESP_LOGW(TAG, "notify failed: %d", rc);
                return false;
            }
        }
        vTaskDelay(pdMS_TO_TICKS(NOTIFY_RETRY_MS));
    }
    return false;
}

/* Sends one Control Point indication and waits for the hub's confirmation. */
static void indicate(const pv_cp_response_t *rsp)
{
    uint8_t buf[PV_CP_MAX_RESPONSE_LEN];
    size_t len = 0;
    if (pv_cp_response_encode(rsp, buf, sizeof(buf), &len) != PV_OK || s_conn == BLE_HS_CONN_HANDLE_NONE) {
        return;
    }
    xEventGroupClearBits(s_events, EV_INDICATION_DONE);
    s_indication_status = 0;
    struct os_mbuf *om = ble_hs_mbuf_from_flat(buf, (uint16_t)len);
    if (om == NULL || ble_gatts_indicate_custom(s_conn, s_cp_handle, om) != 0) {
        ESP_LOGW(TAG, "indication for opcode %u not sent", rsp->opcode);
        return;
    }
    const EventBits_t bits = xEventGroupWaitBits(s_events, EV_INDICATION_DONE | EV_DISCONNECTED, pdFALSE,
                                                 pdFALSE, pdMS_TO_TICKS(PV_INDICATION_TIMEOUT_MS));
    if ((bits & EV_INDICATION_DONE) == 0 || s_indication_status != BLE_HS_EDONE) {
        ESP_LOGW(TAG, "indication for opcode %u not confirmed (%d)", rsp->opcode, s_indication_status);
    }
}

static void indicate_status(uint8_t opcode, pv_cp_status_t status)
{
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = opcode;
    rsp.status = (uint8_t)status;
    indicate(&rsp);
}

/* Between chunks of a long operation: answer whatever the hub sent meanwhile. Returns true when
 * the running operation must stop (ABORT, or the link dropped). */
static bool interrupted(bool *abort_requested)
{
    cp_item_t item;
    while (xQueueReceive(s_cp_queue, &item, 0) == pdTRUE) {
        if (item.parse_status == PV_CP_SUCCESS && item.req.opcode == PV_OP_ABORT) {
            *abort_requested = true;
        } else {
            indicate_status(item.req.opcode, item.parse_status == PV_CP_SUCCESS ? PV_CP_BUSY
                                                                               : item.parse_status);
        }
    }
    return *abort_requested || s_conn == BLE_HS_CONN_HANDLE_NONE;
}

static void finish_aborted(uint8_t opcode, bool abort_requested)
{
    indicate_status(opcode, PV_CP_ABORTED);
    if (abort_requested) {
        indicate_status(PV_OP_ABORT, PV_CP_SUCCESS);
    }
}

static void op_report_since(uint32_t since)
{
    uint8_t buf[256];
    const size_t cap = att_payload() < sizeof(buf) ? att_payload() : sizeof(buf);
    bool abort_requested = false;
    pv_backfill_t backfill;
    pv_backfill_start(&backfill, since);
    for (;;) {
        size_t used = 0;
        node_storage_ring_lock();
        const pv_status_t st = pv_backfill_next(node_storage_ring(), &backfill, buf, cap, &used);
        node_storage_ring_unlock();
        if (st == PV_ERR_NOT_FOUND) {
            break;
        }
        if (st != PV_OK) {
            /* MTU too small for a record (the hub skipped the exchange) or a flash error. */
            ESP_LOGW(TAG, "REPORT_SINCE stopped (%d)", (int)st);
            indicate_status(PV_OP_REPORT_SINCE, PV_CP_INVALID_PARAMETER);
            return;
        }
        if (!notify(s_records_handle, buf, used) || interrupted(&abort_requested)) {
            finish_aborted(PV_OP_REPORT_SINCE, abort_requested);
            return;
        }
    }
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_REPORT_SINCE;
    rsp.count = backfill.count;
    rsp.last_seq = backfill.last_seq;
    indicate(&rsp);
}

static void op_ack_upto(uint32_t seq)
{
    uint32_t remaining = 0;
    uint32_t first = 0;
    uint32_t last = 0;
    node_storage_ring_lock();
    pv_status_t st = pv_ring_ack_upto(node_storage_ring(), seq);
    if (st == PV_OK) {
        st = pv_ring_pending(node_storage_ring(), &remaining, &first, &last);
    }
    node_storage_ring_unlock();
    if (st != PV_OK) {
        ESP_LOGE(TAG, "ack failed (%d)", (int)st);
        indicate_status(PV_OP_ACK_UPTO, PV_CP_INVALID_PARAMETER);
        return;
    }
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_ACK_UPTO;
    rsp.remaining = remaining;
    indicate(&rsp);
    ble_node_update_scan_response();
}

static void op_count(void)
{
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_COUNT;
    node_storage_ring_lock();
    pv_ring_pending(node_storage_ring(), &rsp.count, &rsp.oldest_seq, &rsp.newest_seq);
    node_storage_ring_unlock();
    indicate(&rsp);
}

static void op_capture(void)
{
#if CONFIG_PV_BOARD_HAS_CAMERA
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_CAPTURE;
    pv_cp_status_t status;
    time_t now = time(NULL);
    camera_capture_to_store(now >= (time_t)PV_TIME_MIN_EPOCH ? (uint32_t)now : 0u, &rsp.image, &status);
    rsp.status = (uint8_t)status;
    indicate(&rsp);
#else
    indicate_status(PV_OP_CAPTURE, PV_CP_NO_CAMERA);
#endif
}

static void op_img_list(uint16_t after_id)
{
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_IMG_LIST;
    int more = 0;
    rsp.n_images = (uint8_t)image_store_list(after_id, rsp.images, pv_cp_img_list_fit(att_payload()), &more);
    rsp.more = (uint8_t)more;
    indicate(&rsp);
}

static void op_img_get(uint16_t id, uint32_t offset)
{
    pv_image_entry_t entry;
    if (image_store_find(id, &entry) != ESP_OK) {
        indicate_status(PV_OP_IMG_GET, PV_CP_NOT_FOUND);
        return;
    }
    if (offset > entry.size) {
        indicate_status(PV_OP_IMG_GET, PV_CP_INVALID_PARAMETER);
        return;
    }
    uint8_t data[256];
    uint8_t chunk[256 + PV_IMAGE_CHUNK_HEADER_LEN];
    const size_t payload = att_payload() < sizeof(chunk) ? att_payload() : sizeof(chunk);
    const size_t step = payload - PV_IMAGE_CHUNK_HEADER_LEN;
    bool abort_requested = false;
    while (offset < entry.size) {
        const size_t n = entry.size - offset < step ? entry.size - offset : step;
        size_t len = 0;
        if (image_store_read(id, offset, data, n) != ESP_OK ||
            pv_image_chunk_encode(id, offset, data, n, chunk, sizeof(chunk), &len) != PV_OK ||
            !notify(s_image_handle, chunk, len) || interrupted(&abort_requested)) {
            finish_aborted(PV_OP_IMG_GET, abort_requested);
            return;
        }
        offset += (uint32_t)n;
    }
    pv_cp_response_t rsp;
    memset(&rsp, 0, sizeof(rsp));
    rsp.opcode = PV_OP_IMG_GET;
    rsp.image = entry;
    indicate(&rsp);
}

static void op_img_delete(uint16_t id)
{
    const esp_err_t err = image_store_delete(id);
    indicate_status(PV_OP_IMG_DELETE, err == ESP_OK ? PV_CP_SUCCESS : PV_CP_NOT_FOUND);
    if (err == ESP_OK) {
        ble_node_update_scan_response();
    }
}

static void cp_worker(void *arg)
{
    (void)arg;
    cp_item_t item;
    for (;;) {
        if (xQueueReceive(s_cp_queue, &item, portMAX_DELAY) != pdTRUE) {
            continue;
        }
        if (item.parse_status != PV_CP_SUCCESS) {
            indicate_status(item.req.opcode, item.parse_status);
            continue;
        }
        switch (item.req.opcode) {
        case PV_OP_REPORT_SINCE:
            op_report_since(item.req.seq);
            break;
        case PV_OP_ACK_UPTO:
            op_ack_upto(item.req.seq);
            break;
        case PV_OP_COUNT:
            op_count();
            break;
        case PV_OP_CAPTURE:
            op_capture();
            break;
        case PV_OP_IMG_LIST:
            op_img_list(item.req.image_id);
            break;
        case PV_OP_IMG_GET:
            op_img_get(item.req.image_id, item.req.offset);
            break;
        case PV_OP_IMG_DELETE:
            op_img_delete(item.req.image_id);
            break;
        default: /* ABORT with nothing running */
            indicate_status(PV_OP_ABORT, PV_CP_SUCCESS);
            break;
        }
    }
}

/* ---------------------------------------------------------------- GAP */

/* xEventGroupWaitBits in slices, feeding the calling task's watchdog between them. */
static EventBits_t wait_bits_fed(EventBits_t bits, uint32_t timeout_ms)
{
    uint32_t waited = 0;
    for (;;) {
        const uint32_t slice = timeout_ms - waited < WAIT_SLICE_MS ? timeout_ms - waited : WAIT_SLICE_MS;
        const EventBits_t got = xEventGroupWaitBits(s_events, bits, pdFALSE, pdFALSE, pdMS_TO_TICKS(slice));
        esp_task_wdt_reset();
        waited += slice;
        if ((got & bits) != 0 || waited >= timeout_ms) {
            return got;
        }
    }
}

static int gap_event(struct ble_gap_event *event, void *arg)
{
    (void)arg;
    struct ble_gap_conn_desc desc;
    switch (event->type) {
    case BLE_GAP_EVENT_CONNECT:
        if (event->connect.status == 0) {
            s_conn = event->connect.conn_handle;
            s_cp_indications = false;
            s_records_notifications = false;
            s_image_notifications = false;
            xEventGroupClearBits(s_events, EV_DISCONNECTED);
            xEventGroupSetBits(s_events, EV_CONNECTED);
            ESP_LOGI(TAG, "hub connected");
        } else {
            xEventGroupSetBits(s_events, EV_ADV_DONE);
        }
        return 0;
    case BLE_GAP_EVENT_DISCONNECT:
        ESP_LOGI(TAG, "hub disconnected (reason 0x%x)", event->disconnect.reason);
        s_conn = BLE_HS_CONN_HANDLE_NONE;
        xQueueReset(s_cp_queue);
        xEventGroupSetBits(s_events, EV_DISCONNECTED | EV_INDICATION_DONE);
        return 0;
    case BLE_GAP_EVENT_ADV_COMPLETE:
        xEventGroupSetBits(s_events, EV_ADV_DONE);
        return 0;
    case BLE_GAP_EVENT_ENC_CHANGE:
        if (ble_gap_conn_find(event->enc_change.conn_handle, &desc) == 0) {
            ESP_LOGI(TAG, "link encrypted=%d bonded=%d (status %d)", desc.sec_state.encrypted,
                     desc.sec_state.bonded, event->enc_change.status);
        }
        return 0;
    case BLE_GAP_EVENT_REPEAT_PAIRING:
        /* The hub lost its keys and pairs again: forget the old bond, but only while pairing is
         * allowed; otherwise keep the bond and refuse, so a stranger cannot replace the hub. */
        if (!ble_hs_cfg.sm_bonding) {
            return BLE_GAP_REPEAT_PAIRING_IGNORE;
        }
        if (ble_gap_conn_find(event->repeat_pairing.conn_handle, &desc) == 0) {
            ble_store_util_delete_peer(&desc.peer_id_addr);
        }
        return BLE_GAP_REPEAT_PAIRING_RETRY;
    case BLE_GAP_EVENT_NOTIFY_TX:
        if (event->notify_tx.indication && event->notify_tx.status != 0) {
            /* BLE_HS_EDONE: confirmed; anything else non-zero: timed out or failed. */
            s_indication_status = event->notify_tx.status;
            xEventGroupSetBits(s_events, EV_INDICATION_DONE);
        }
        return 0;
    case BLE_GAP_EVENT_SUBSCRIBE:
        /* Bonded hubs' CCCDs are restored from the store on reconnection and reported here too. */
        if (event->subscribe.attr_handle == s_cp_handle) {
            s_cp_indications = event->subscribe.cur_indicate != 0;
        } else if (event->subscribe.attr_handle == s_records_handle) {
            s_records_notifications = event->subscribe.cur_notify != 0;
        } else if (event->subscribe.attr_handle == s_image_handle) {
            s_image_notifications = event->subscribe.cur_notify != 0;
        }
        return 0;
    case BLE_GAP_EVENT_MTU:
        ESP_LOGI(TAG, "MTU %u", event->mtu.value);
        return 0;
    default:
        return 0;
    }
}

static void on_sync(void)
{
    ble_hs_util_ensure_addr(0);
    if (ble_hs_id_infer_auto(0, &s_own_addr_type) != 0) {
        ESP_LOGE(TAG, "no usable address");
        return;
    }
    uint8_t le[6];
    ble_hs_id_copy_addr(s_own_addr_type, le, NULL);
    /* NimBLE stores addresses least significant byte first; BTHome's nonce wants display order. */
    for (int i = 0; i < 6; i++) {
        s_mac[i] = le[5 - i];
    }
    xEventGroupSetBits(s_events, EV_SYNCED);
}

static void on_reset(int reason)
{
    ESP_LOGE(TAG, "NimBLE reset, reason %d", reason);
}

static void host_task(void *param)
{
    (void)param;
    nimble_port_run();
    nimble_port_freertos_deinit();
}

esp_err_t ble_node_start(const ble_node_app_t *app)
{
    s_app = *app;
    s_events = xEventGroupCreate();
    s_cp_queue = xQueueCreate(CP_QUEUE_LEN, sizeof(cp_item_t));
    if (s_events == NULL || s_cp_queue == NULL) {
        return ESP_ERR_NO_MEM;
    }
    ESP_RETURN_ON_ERROR(nimble_port_init(), TAG, "nimble init");

    ble_hs_cfg.sync_cb = on_sync;
    ble_hs_cfg.reset_cb = on_reset;
    ble_hs_cfg.store_status_cb = ble_store_util_status_rr;
    ble_hs_cfg.sm_io_cap = BLE_SM_IO_CAP_NO_IO; /* no display or keys on a plant stick */
    ble_hs_cfg.sm_sc = 1;
    ble_hs_cfg.sm_mitm = 0;
    ble_hs_cfg.sm_bonding = 0;
    ble_hs_cfg.sm_our_key_dist = BLE_SM_PAIR_KEY_DIST_ENC | BLE_SM_PAIR_KEY_DIST_ID;
    ble_hs_cfg.sm_their_key_dist = BLE_SM_PAIR_KEY_DIST_ENC | BLE_SM_PAIR_KEY_DIST_ID;

    ble_svc_gap_init();
    ble_svc_gatt_init();
    int rc = ble_gatts_count_cfg(k_services);
    if (rc == 0) {
        rc = ble_gatts_add_svcs(k_services);
    }
    if (rc != 0) {
        ESP_LOGE(TAG, "GATT database rejected: %d", rc);
        return ESP_FAIL;
    }
    ble_store_config_init();
    nimble_port_freertos_init(host_task);
    if ((xEventGroupWaitBits(s_events, EV_SYNCED, pdFALSE, pdFALSE, pdMS_TO_TICKS(5000)) & EV_SYNCED) == 0) {
        return ESP_ERR_TIMEOUT;
    }
    pv_default_name(s_mac, s_name);
    ble_svc_gap_device_name_set(s_name);
    if (xTaskCreate(cp_worker, "pv_cp", 4096, NULL, 5, NULL) != pdPASS) {
        return ESP_ERR_NO_MEM;
    }
    return ble_node_update_scan_response();
}

void ble_node_mac(uint8_t mac[6])
{
    memcpy(mac, s_mac, 6);
}

esp_err_t ble_node_update_scan_response(void)
{
    uint8_t rsp[PV_ADV_MAX_LEN];
    size_t len = 0;
    if (pv_scan_response_encode(s_name, s_app.status(), rsp, sizeof(rsp), &len) != PV_OK) {
        return ESP_FAIL;
    }
    return ble_gap_adv_rsp_set_data(rsp, (int)len) == 0 ? ESP_OK : ESP_FAIL;
}

static esp_err_t advertise(const uint8_t *adv, size_t adv_len, uint8_t conn_mode, uint16_t interval_ms,
                           int32_t duration_ms)
{
    if (ble_gap_adv_active()) {
        ble_gap_adv_stop();
    }
    ESP_RETURN_ON_FALSE(ble_gap_adv_set_data(adv, (int)adv_len) == 0, ESP_FAIL, TAG, "adv data");
    ESP_RETURN_ON_ERROR(ble_node_update_scan_response(), TAG, "scan response");
    struct ble_gap_adv_params params;
    memset(&params, 0, sizeof(params));
    params.conn_mode = conn_mode;
    params.disc_mode = BLE_GAP_DISC_MODE_GEN; /* scannable: the scan response carries the status */
    params.itvl_min = BLE_GAP_ADV_ITVL_MS(interval_ms);
    params.itvl_max = BLE_GAP_ADV_ITVL_MS(interval_ms);
    xEventGroupClearBits(s_events, EV_ADV_DONE | EV_CONNECTED);
    const int rc = ble_gap_adv_start(s_own_addr_type, NULL, duration_ms, &params, gap_event, NULL);
    if (rc != 0) {
        ESP_LOGE(TAG, "advertising failed: %d", rc);
        return ESP_FAIL;
    }
    return ESP_OK;
}

esp_err_t ble_node_burst(const uint8_t *adv, size_t adv_len, uint8_t count, uint16_t interval_ms)
{
    /* Legacy advertising: one event per interval on all three channels; the stack ends it. */
    const int32_t duration_ms = (int32_t)count * interval_ms;
    ESP_RETURN_ON_ERROR(advertise(adv, adv_len, BLE_GAP_CONN_MODE_NON, interval_ms, duration_ms), TAG,
                        "burst");
    wait_bits_fed(EV_ADV_DONE, (uint32_t)duration_ms + 1000u);
    if (ble_gap_adv_active()) {
        ble_gap_adv_stop();
    }
    return ESP_OK;
}

esp_err_t ble_node_connectable_window(const uint8_t *adv, size_t adv_len, uint32_t window_s)
{
    if (window_s == 0) {
        return ESP_OK;
    }
    /* Slower interval than the burst: the hub is actively scanning for us during the window. */
    ESP_RETURN_ON_ERROR(advertise(adv, adv_len, BLE_GAP_CONN_MODE_UND, 300, (int32_t)(window_s * 1000u)),
                        TAG, "window");
    const EventBits_t bits = wait_bits_fed(EV_ADV_DONE | EV_CONNECTED, window_s * 1000u + 1000u);
    if ((bits & EV_CONNECTED) == 0) {
        if (ble_gap_adv_active()) {
            ble_gap_adv_stop();
        }
        return ESP_OK;
    }
    const EventBits_t end = wait_bits_fed(EV_DISCONNECTED, CONFIG_PV_SESSION_TIMEOUT_S * 1000u);
    if ((end & EV_DISCONNECTED) == 0 && s_conn != BLE_HS_CONN_HANDLE_NONE) {
        ESP_LOGW(TAG, "session longer than %d s: disconnecting", CONFIG_PV_SESSION_TIMEOUT_S);
        ble_gap_terminate(s_conn, BLE_ERR_REM_USER_CONN_TERM);
        xEventGroupWaitBits(s_events, EV_DISCONNECTED, pdFALSE, pdFALSE, pdMS_TO_TICKS(2000));
    }
    return ESP_OK;
}

void ble_node_stop(void)
{
    if (ble_gap_adv_active()) {
        ble_gap_adv_stop();
    }
    if (nimble_port_stop() == 0) {
        nimble_port_deinit();
    }
}
