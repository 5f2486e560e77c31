/* Every golden vector of shared/vectors (bthome.json, gatt.json), encoded and decoded byte for byte by pv_core.
 * The directory comes from argv[1] (CMake's PV_VECTORS_DIR); the files are read, never copied.
 * An unknown vector kind fails the run, so new kinds cannot be skipped silently. */
#include "test_support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json_min.h"
#include "pv/pv_bthome.h"
#include "pv/pv_config.h"
#include "pv/pv_control.h"
#include "pv/pv_crc32.h"
#include "pv/pv_gatt.h"

static const char *g_dir;
static const char *g_name; /* vector being checked, for failure messages */
static int g_checked;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("vector %s: check failed: %s\n", g_name, #cond);                         \
            _fail(__FILE__, __LINE__);                                                             \
        }                                                                                          \
    } while (0)

#define CHECK_BYTES(expected, expected_len, actual, actual_len)                                    \
    do {                                                                                           \
        if ((expected_len) != (actual_len) ||                                                      \
            ((expected_len) > 0 && memcmp((expected), (actual), (expected_len)) != 0)) {           \
            print_error("vector %s: encoded bytes differ\n", g_name);                              \
        }                                                                                          \
        assert_bytes_equal((expected), (expected_len), (actual), (actual_len));                    \
    } while (0)

static const json_node_t *field(const json_node_t *fields, const char *key)
{
    const json_node_t *f = json_get(fields, key);
    if (f == NULL) {
        print_error("vector %s: field %s missing\n", g_name, key);
        fail();
    }
    return f;
}

static double num(const json_node_t *fields, const char *key)
{
    const json_node_t *f = field(fields, key);
    CHECK(f->type == JSON_NUMBER);
    return f->number;
}

static uint32_t u32(const json_node_t *fields, const char *key)
{
    const double v = num(fields, key);
    CHECK(v >= 0 && v <= 4294967295.0 && v == floor(v));
    return (uint32_t)v;
}

static long centi(double v)
{
    return lround(v * 100.0);
}

static int bytes_of(const char *hex, uint8_t *out, size_t cap)
{
    const int n = hex_to_bytes(hex, out, cap);
    CHECK(n >= 0);
    return n;
}

/* ---- readings ---- */

static void reading_from_fields(const json_node_t *f, pv_reading_t *r)
{
    memset(r, 0, sizeof(*r));
    if (json_get(f, "battery") != NULL) {
        r->present |= PV_HAS_BATTERY;
        r->battery_pct = (uint8_t)lround(num(f, "battery"));
    }
    if (json_get(f, "temperature") != NULL) {
        r->present |= PV_HAS_TEMPERATURE;
        r->temperature_centi_c = (int16_t)centi(num(f, "temperature"));
    }
    if (json_get(f, "humidity") != NULL) {
        r->present |= PV_HAS_HUMIDITY;
        r->humidity_centi_pct = (uint16_t)centi(num(f, "humidity"));
    }
    if (json_get(f, "illuminance") != NULL) {
        r->present |= PV_HAS_ILLUMINANCE;
        r->illuminance_centi_lux = (uint32_t)centi(num(f, "illuminance"));
    }
    if (json_get(f, "moisture") != NULL) {
        r->present |= PV_HAS_MOISTURE;
        r->moisture_centi_pct = (uint16_t)centi(num(f, "moisture"));
    }
    if (json_get(f, "conductivity") != NULL) {
        r->present |= PV_HAS_CONDUCTIVITY;
        r->conductivity_us_cm = (uint16_t)lround(num(f, "conductivity"));
    }
}

static void check_reading(const pv_reading_t *got, const json_node_t *f)
{
    pv_reading_t want;
    reading_from_fields(f, &want);
    CHECK(got->present == want.present);
    CHECK(got->battery_pct == want.battery_pct);
    CHECK(got->temperature_centi_c == want.temperature_centi_c);
    CHECK(got->humidity_centi_pct == want.humidity_centi_pct);
    CHECK(got->illuminance_centi_lux == want.illuminance_centi_lux);
    CHECK(got->moisture_centi_pct == want.moisture_centi_pct);
    CHECK(got->conductivity_us_cm == want.conductivity_us_cm);
}

/* ---- BTHome ---- */

typedef struct {
    uint8_t mac[6];
    uint8_t key[16];
    int has_key;
} node_id_t;

static void node_from_fields(const json_node_t *f, node_id_t *node)
{
    memset(node, 0, sizeof(*node));
    const json_node_t *mac = field(f, "mac");
    CHECK(mac->type == JSON_STRING && hex_to_bytes(mac->string, node->mac, 6) == 6);
    const json_node_t *key = field(f, "bindkey");
    if (key->type == JSON_STRING) {
        CHECK(hex_to_bytes(key->string, node->key, 16) == 16);
        node->has_key = 1;
    } else {
        CHECK(key->type == JSON_NULL);
    }
}

static void check_service_data(const uint8_t *sd, size_t sd_len, const json_node_t *f)
{
    node_id_t node;
    node_from_fields(f, &node);
    const int encrypted = field(f, "encrypted")->boolean;
    pv_reading_t r;
    reading_from_fields(f, &r);
    uint8_t objects[PV_BTHOME_MAX_OBJECTS_LEN], out[PV_ADV_MAX_LEN];
    size_t n_obj, n_out;
    CHECK(pv_bthome_encode_objects(&r, objects, sizeof(objects), &n_obj) == PV_OK);
    if (encrypted) {
        CHECK(node.has_key);
        const uint32_t counter = u32(f, "counter");
        CHECK(pv_bthome_service_data_encrypt(node.key, node.mac, PV_BTHOME_DEVINFO_VERSION_2, counter,
                                             objects, n_obj, out, sizeof(out), &n_out) == PV_OK);
        const json_node_t *nonce_hex = json_get(f, "nonce");
        if (nonce_hex != NULL) {
            uint8_t want[13], got[13];
            CHECK(bytes_of(nonce_hex->string, want, sizeof(want)) == 13);
            pv_bthome_nonce(node.mac, sd[0], counter, got);
            CHECK_BYTES(want, sizeof(want), got, sizeof(got));
        }
    } else {
        CHECK(pv_bthome_service_data_plain(PV_BTHOME_DEVINFO_VERSION_2, objects, n_obj, out, sizeof(out),
                                           &n_out) == PV_OK);
    }
    CHECK_BYTES(sd, sd_len, out, n_out);

    pv_bthome_frame_t frame;
    CHECK(pv_bthome_service_data_parse(sd, sd_len, node.has_key ? node.key : NULL,
                                       node.has_key ? node.mac : NULL, &frame) == PV_OK);
    CHECK(frame.encrypted == (encrypted ? 1 : 0));
    if (encrypted) {
        CHECK(frame.counter == u32(f, "counter"));
    }
    pv_reading_t back;
    CHECK(pv_bthome_decode_objects(frame.objects, frame.objects_len, &back) == PV_OK);
    check_reading(&back, f);
}

static void check_adv(const uint8_t *adv, size_t len, const json_node_t *f)
{
    /* Flags AD, then Service Data AD whose UUID is 0xFCD2 and whose rest is the service data. */
    CHECK(len >= 7 && adv[0] == 2 && adv[1] == 1 && adv[2] == 6 && adv[3] == len - 4 &&
          adv[4] == 0x16 && adv[5] == 0xd2 && adv[6] == 0xfc);
    check_service_data(&adv[7], len - 7, f);
    uint8_t out[PV_ADV_MAX_LEN];
    size_t n_out;
    CHECK(pv_adv_build(&adv[7], len - 7, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(adv, len, out, n_out);
}

/* A node's advert for a whole measurement ("measurement"): the top-level fields are what the
 * advert with this counter carries, and this firmware picks the same part. */
static void check_node_advert(const uint8_t *adv, size_t len, const json_node_t *f)
{
    check_adv(adv, len, f);
    node_id_t node;
    node_from_fields(f, &node);
    pv_reading_t measurement;
    reading_from_fields(field(f, "measurement"), &measurement);
    uint8_t objects[PV_BTHOME_ADVERT_OBJECTS_MAX], sd[PV_ADV_MAX_LEN], out[PV_ADV_MAX_LEN];
    size_t n_obj, n_sd, n_out;
    CHECK(pv_bthome_encode_advert_objects(&measurement, u32(f, "counter"), objects, sizeof(objects),
                                          &n_obj) == PV_OK);
    CHECK(pv_bthome_service_data_encrypt(node.key, node.mac, PV_BTHOME_DEVINFO_VERSION_2, u32(f, "counter"),
                                         objects, n_obj, sd, sizeof(sd), &n_sd) == PV_OK);
    CHECK(pv_adv_build(sd, n_sd, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(adv, len, out, n_out);
}

static void check_service_data_invalid(const uint8_t *sd, size_t len, const json_node_t *f)
{
    node_id_t node;
    node_from_fields(f, &node);
    const char *error = field(f, "error")->string;
    pv_bthome_frame_t frame;
    pv_status_t st = pv_bthome_service_data_parse(sd, len, node.has_key ? node.key : NULL,
                                                  node.has_key ? node.mac : NULL, &frame);
    if (st == PV_OK) {
        /* Framing is fine: the objects must be what is wrong (unknown, or no metric at all). */
        pv_reading_t r;
        st = pv_bthome_decode_objects(frame.objects, frame.objects_len, &r);
        if (st == PV_OK && r.present == 0u) {
            st = PV_ERR_MALFORMED;
        }
    }
    CHECK(st != PV_OK);
    if (strcmp(error, "WrongKey") == 0 || strcmp(error, "Downgrade") == 0) {
        CHECK(st == PV_ERR_AUTH);
    } else if (strcmp(error, "Malformed") == 0) {
        CHECK(st == PV_ERR_MALFORMED || st == PV_ERR_UNSUPPORTED);
    } else {
        print_error("vector %s: unexpected error class %s\n", g_name, error);
        fail();
    }
}

static void check_objects(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_reading_t r, back;
    uint8_t out[PV_BTHOME_MAX_OBJECTS_LEN];
    size_t n_out;
    reading_from_fields(f, &r);
    CHECK(pv_bthome_encode_objects(&r, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
    CHECK(pv_bthome_decode_objects(in, len, &back) == PV_OK);
    check_reading(&back, f);
}

static void check_scan_response(const uint8_t *in, size_t len, const json_node_t *f)
{
    const char *name = field(f, "name")->string;
    const uint8_t status = (uint8_t)u32(f, "status");
    pv_scan_response_t rsp;
    CHECK(pv_scan_response_decode(in, len, &rsp) == PV_OK);
    CHECK(strcmp(rsp.name, name) == 0);
    CHECK(rsp.status == status);
    CHECK(((rsp.status & PV_STATUS_PENDING_MASK) != 0) == field(f, "pending")->boolean);
    CHECK(rsp.name_shortened == !field(f, "name_complete")->boolean);
    /* Decode-only for a cut name; our encoder must still cut a longer name the same way. */
    char source[64];
    snprintf(source, sizeof(source), "%s%s", name, rsp.name_shortened ? " and more" : "");
    uint8_t out[PV_ADV_MAX_LEN];
    size_t n_out;
    CHECK(pv_scan_response_encode(source, status, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
}

/* ---- GATT ---- */

static void check_info(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_info_t info;
    memset(&info, 0, sizeof(info));
    info.protocol_version = (uint8_t)u32(f, "protocol_version");
    info.capabilities = (uint16_t)u32(f, "capabilities");
    info.max_image_size = u32(f, "max_image_size");
    info.record_capacity = u32(f, "record_capacity");
    snprintf(info.firmware_version, sizeof(info.firmware_version), "%s",
             field(f, "firmware_version")->string);
    uint8_t out[PV_INFO_MAX_LEN];
    size_t n_out;
    CHECK(pv_info_encode(&info, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
    pv_info_t back;
    CHECK(pv_info_decode(in, len, &back) == PV_OK);
    CHECK(back.protocol_version == info.protocol_version && back.capabilities == info.capabilities &&
          back.max_image_size == info.max_image_size && back.record_capacity == info.record_capacity &&
          strcmp(back.firmware_version, info.firmware_version) == 0);
}

static void config_from_fields(const json_node_t *f, pv_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->revision = u32(f, "revision");
    c->sampling_interval_s = u32(f, "sampling_interval_s");
    c->advert_burst_count = (uint8_t)u32(f, "advert_burst_count");
    c->advert_burst_interval_ms = (uint16_t)u32(f, "advert_burst_interval_ms");
    const json_node_t *times = field(f, "camera_times");
    CHECK(times->type == JSON_ARRAY && times->count <= PV_CONFIG_MAX_CAMERA_TIMES);
    c->camera_time_count = (uint8_t)times->count;
    for (size_t i = 0; i < times->count; i++) {
        c->camera_times[i] = (uint16_t)times->items[i].number;
    }
    c->moisture_low = (uint16_t)centi(num(f, "moisture_low"));
    c->moisture_high = (uint16_t)centi(num(f, "moisture_high"));
    c->temperature_low = (int16_t)centi(num(f, "temperature_low"));
    c->temperature_high = (int16_t)centi(num(f, "temperature_high"));
    c->connectable_window_s = (uint16_t)u32(f, "connectable_window_s");
    c->alert_interval_s = u32(f, "alert_interval_s");
    c->camera_interval_s = u32(f, "camera_interval_s");
}

static void check_config_decode(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_config_t want, got;
    config_from_fields(f, &want);
    CHECK(pv_config_decode(in, len, &got) == PV_OK);
    CHECK(got.revision == want.revision);
    CHECK(got.sampling_interval_s == want.sampling_interval_s);
    CHECK(got.advert_burst_count == want.advert_burst_count);
    CHECK(got.advert_burst_interval_ms == want.advert_burst_interval_ms);
    CHECK(got.camera_time_count == want.camera_time_count);
    for (size_t i = 0; i < want.camera_time_count; i++) {
        CHECK(got.camera_times[i] == want.camera_times[i]);
    }
    CHECK(got.moisture_low == want.moisture_low && got.moisture_high == want.moisture_high);
    CHECK(got.temperature_low == want.temperature_low && got.temperature_high == want.temperature_high);
    CHECK(got.connectable_window_s == want.connectable_window_s);
    CHECK(got.alert_interval_s == want.alert_interval_s);
    CHECK(got.camera_interval_s == want.camera_interval_s);
}

static void check_config(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_config_t c;
    config_from_fields(f, &c);
    uint8_t out[PV_CONFIG_MAX_LEN];
    size_t n_out;
    CHECK(pv_config_encode(&c, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
    check_config_decode(in, len, f);
}

static void check_time(const uint8_t *in, size_t len, const json_node_t *f)
{
    uint32_t epoch;
    uint8_t out[4];
    CHECK(pv_time_decode(in, len, &epoch) == PV_OK);
    CHECK(epoch == u32(f, "epoch"));
    CHECK(pv_time_encode(epoch, out) == PV_OK);
    CHECK_BYTES(in, len, out, sizeof(out));
}

static int lookup(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0) {
            return (int)i;
        }
    }
    print_error("vector %s: unknown name %s\n", g_name, name);
    fail();
    return -1;
}

static const char *const k_opcodes[] = {NULL,      "REPORT_SINCE", "ACK_UPTO",   "COUNT", "CAPTURE",
                                        "IMG_LIST", "IMG_GET",     "IMG_DELETE", "ABORT"};
static const char *const k_statuses[] = {"SUCCESS",   "UNKNOWN_OPCODE", "INVALID_PARAMETER",
                                         "NOT_FOUND", "BUSY",           "ABORTED",
                                         "NO_CAMERA", "CAPTURE_FAILED", "STORAGE_FULL"};
#define N_OPCODES (sizeof(k_opcodes) / sizeof(k_opcodes[0]))
#define N_STATUSES (sizeof(k_statuses) / sizeof(k_statuses[0]))

static void check_cp_request(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_cp_request_t want;
    memset(&want, 0, sizeof(want));
    want.opcode = (uint8_t)lookup(k_opcodes, N_OPCODES, field(f, "opcode")->string);
    if (json_get(f, "seq") != NULL) {
        want.seq = u32(f, "seq");
    }
    if (json_get(f, "after_id") != NULL) {
        want.image_id = (uint16_t)u32(f, "after_id");
    }
    if (json_get(f, "image_id") != NULL) {
        want.image_id = (uint16_t)u32(f, "image_id");
    }
    if (json_get(f, "offset") != NULL) {
        want.offset = u32(f, "offset");
    }
    pv_cp_request_t got;
    pv_cp_status_t status;
    CHECK(pv_cp_request_decode(in, len, &got, &status) == PV_OK && status == PV_CP_SUCCESS);
    CHECK(got.opcode == want.opcode && got.seq == want.seq && got.image_id == want.image_id &&
          got.offset == want.offset);
    uint8_t out[16];
    size_t n_out;
    CHECK(pv_cp_request_encode(&want, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
}

static void check_cp_request_invalid(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_cp_request_t req;
    pv_cp_status_t status = PV_CP_SUCCESS;
    CHECK(pv_cp_request_decode(in, len, &req, &status) != PV_OK);
    CHECK((int)status == lookup(k_statuses, N_STATUSES, field(f, "status")->string));
}

static void entry_from_fields(const json_node_t *f, pv_image_entry_t *e, int with_epoch)
{
    e->image_id = (uint16_t)u32(f, "image_id");
    e->size = u32(f, "size");
    e->crc32 = u32(f, "crc32");
    e->epoch = with_epoch ? u32(f, "epoch") : 0u;
}

static void check_cp_response(const uint8_t *in, size_t len, const json_node_t *f)
{
    pv_cp_response_t want;
    memset(&want, 0, sizeof(want));
    want.opcode = (uint8_t)lookup(k_opcodes, N_OPCODES, field(f, "opcode")->string);
    want.status = (uint8_t)lookup(k_statuses, N_STATUSES, field(f, "status")->string);
    if (want.status == PV_CP_SUCCESS) {
        switch (want.opcode) {
        case PV_OP_REPORT_SINCE:
            want.count = u32(f, "count");
            want.last_seq = u32(f, "last_seq");
            break;
        case PV_OP_ACK_UPTO:
            want.remaining = u32(f, "remaining");
            break;
        case PV_OP_COUNT:
            want.count = u32(f, "count");
            want.oldest_seq = u32(f, "oldest_seq");
            want.newest_seq = u32(f, "newest_seq");
            break;
        case PV_OP_CAPTURE:
            entry_from_fields(f, &want.image, 1);
            break;
        case PV_OP_IMG_GET:
            entry_from_fields(f, &want.image, 0);
            break;
        case PV_OP_IMG_LIST: {
            const json_node_t *images = field(f, "images");
            CHECK(images->type == JSON_ARRAY && images->count <= PV_CP_MAX_IMAGES);
            want.n_images = (uint8_t)images->count;
            for (size_t i = 0; i < images->count; i++) {
                entry_from_fields(&images->items[i], &want.images[i], 1);
            }
            want.more = (uint8_t)field(f, "more")->boolean;
            break;
        }
        default:
            break;
        }
    }
    uint8_t out[PV_CP_MAX_RESPONSE_LEN];
    size_t n_out;
    CHECK(pv_cp_response_encode(&want, out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
    pv_cp_response_t got;
    CHECK(pv_cp_response_decode(in, len, &got) == PV_OK);
    CHECK(memcmp(&got, &want, sizeof(got)) == 0);
}

static void check_records(const uint8_t *in, size_t len, const json_node_t *f)
{
    const json_node_t *records = field(f, "records");
    CHECK(records->type == JSON_ARRAY && records->count > 0);
    uint8_t out[512];
    size_t used = 0;
    size_t off = 0;
    for (size_t i = 0; i < records->count; i++) {
        const json_node_t *rf = &records->items[i];
        pv_reading_t r;
        uint8_t objects[PV_BTHOME_MAX_OBJECTS_LEN];
        size_t n_obj;
        reading_from_fields(rf, &r);
        CHECK(pv_bthome_encode_objects(&r, objects, sizeof(objects), &n_obj) == PV_OK);
        CHECK(pv_records_append(out, sizeof(out), &used, u32(rf, "seq"), u32(rf, "epoch"), objects,
                                n_obj) == PV_OK);
        pv_record_view_t view;
        pv_reading_t back;
        CHECK(pv_records_next(in, len, &off, &view) == PV_OK);
        CHECK(view.seq == u32(rf, "seq") && view.epoch == u32(rf, "epoch"));
        CHECK(pv_bthome_decode_objects(view.objects, view.objects_len, &back) == PV_OK);
        check_reading(&back, rf);
    }
    pv_record_view_t view;
    CHECK(pv_records_next(in, len, &off, &view) == PV_ERR_NOT_FOUND);
    CHECK_BYTES(in, len, out, used);
}

/* A Records notification is invalid when it holds no record, a truncated one, or bad objects. */
static void check_records_invalid(const uint8_t *in, size_t len)
{
    size_t off = 0;
    size_t n = 0;
    pv_record_view_t view;
    pv_status_t st;
    while ((st = pv_records_next(in, len, &off, &view)) == PV_OK) {
        pv_reading_t r;
        st = pv_bthome_decode_objects(view.objects, view.objects_len, &r);
        if (st != PV_OK) {
            break;
        }
        n++;
    }
    CHECK(st != PV_ERR_NOT_FOUND || n == 0u);
}

static void check_image_chunk(const uint8_t *in, size_t len, const json_node_t *f)
{
    uint8_t data[256], out[300];
    const int n_data = bytes_of(field(f, "data")->string, data, sizeof(data));
    size_t n_out;
    CHECK(pv_image_chunk_encode((uint16_t)u32(f, "image_id"), u32(f, "offset"), data, (size_t)n_data,
                                out, sizeof(out), &n_out) == PV_OK);
    CHECK_BYTES(in, len, out, n_out);
    pv_image_chunk_t chunk;
    CHECK(pv_image_chunk_decode(in, len, &chunk) == PV_OK);
    CHECK(chunk.image_id == u32(f, "image_id") && chunk.offset == u32(f, "offset"));
    CHECK_BYTES(data, (size_t)n_data, chunk.data, chunk.data_len);
}

/* ---- driver ---- */

static void check_vector(const json_node_t *v)
{
    g_name = field(v, "name")->string;
    const char *kind = field(v, "kind")->string;
    const json_node_t *f = field(v, "fields");
    static uint8_t in[4096];
    const int n = bytes_of(field(v, "hex")->string, in, sizeof(in));
    const size_t len = (size_t)n;
    pv_status_t st;

    if (strcmp(kind, "bthome_service_data") == 0) {
        check_service_data(in, len, f);
    } else if (strcmp(kind, "adv_data") == 0) {
        check_adv(in, len, f);
    } else if (strcmp(kind, "node_advert") == 0) {
        check_node_advert(in, len, f);
    } else if (strcmp(kind, "bthome_service_data_invalid") == 0) {
        check_service_data_invalid(in, len, f);
    } else if (strcmp(kind, "objects") == 0) {
        check_objects(in, len, f);
    } else if (strcmp(kind, "objects_invalid") == 0) {
        pv_reading_t r;
        CHECK(pv_bthome_decode_objects(in, len, &r) != PV_OK);
    } else if (strcmp(kind, "scan_response") == 0 || strcmp(kind, "scan_response_shortened") == 0) {
        check_scan_response(in, len, f);
    } else if (strcmp(kind, "info") == 0) {
        check_info(in, len, f);
    } else if (strcmp(kind, "info_invalid") == 0) {
        pv_info_t info;
        CHECK(pv_info_decode(in, len, &info) != PV_OK);
    } else if (strcmp(kind, "config") == 0) {
        check_config(in, len, f);
    } else if (strcmp(kind, "config_forward") == 0) {
        check_config_decode(in, len, f);
    } else if (strcmp(kind, "config_invalid") == 0) {
        pv_config_t c;
        st = pv_config_decode(in, len, &c);
        CHECK(st == PV_ERR_MALFORMED || st == PV_ERR_RANGE);
    } else if (strcmp(kind, "time") == 0) {
        check_time(in, len, f);
    } else if (strcmp(kind, "time_invalid") == 0) {
        uint32_t epoch;
        CHECK(pv_time_decode(in, len, &epoch) != PV_OK);
    } else if (strcmp(kind, "cp_request") == 0) {
        check_cp_request(in, len, f);
    } else if (strcmp(kind, "cp_request_invalid") == 0) {
        check_cp_request_invalid(in, len, f);
    } else if (strcmp(kind, "cp_response") == 0) {
        check_cp_response(in, len, f);
    } else if (strcmp(kind, "cp_response_invalid") == 0) {
        pv_cp_response_t rsp;
        CHECK(pv_cp_response_decode(in, len, &rsp) != PV_OK);
    } else if (strcmp(kind, "records") == 0) {
        check_records(in, len, f);
    } else if (strcmp(kind, "records_invalid") == 0) {
        check_records_invalid(in, len);
    } else if (strcmp(kind, "image_chunk") == 0) {
        check_image_chunk(in, len, f);
    } else if (strcmp(kind, "image_chunk_invalid") == 0) {
        pv_image_chunk_t chunk;
        CHECK(pv_image_chunk_decode(in, len, &chunk) != PV_OK);
    } else if (strcmp(kind, "crc32") == 0) {
        CHECK(pv_crc32(in, len) == u32(f, "crc32"));
    } else {
        print_error("vector %s: kind %s has no C check; add one\n", g_name, kind);
        fail();
    }
    g_checked++;
}

static void check_file(const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", g_dir, file);
    json_node_t root;
    if (json_parse_file(path, &root) != 0) {
        print_error("cannot read golden vectors %s\n", path);
        fail();
    }
    assert_int_equal(root.type, JSON_ARRAY);
    assert_true(root.count > 0);
    const int before = g_checked;
    for (size_t i = 0; i < root.count; i++) {
        check_vector(&root.items[i]);
    }
    printf("%s: %d vectors encoded/decoded\n", file, g_checked - before);
    json_free(&root);
}

static void test_bthome_vectors(void **state)
{
    (void)state;
    check_file("bthome.json");
}

static void test_gatt_vectors(void **state)
{
    (void)state;
    check_file("gatt.json");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS_DIR\n", argv[0]);
        return 2;
    }
    g_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bthome_vectors),
        cmocka_unit_test(test_gatt_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
