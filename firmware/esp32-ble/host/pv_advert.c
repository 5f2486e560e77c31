/* Host CLI: prints the advertising data, service data and scan response a node would send for the
 * given bindkey, MAC, counter and readings, using the same pv_core code as the firmware.
 *
 *   pv_advert --key HEX32 --mac AA:BB:CC:DD:EE:FF --counter N [--battery PCT] [--temperature C]
 *             [--humidity PCT] [--illuminance LX] [--moisture PCT] [--conductivity USCM]
 *             [--status BITS]
 *
 * The advert carries what a node's would for this counter (pv_bthome_encode_advert_objects);
 * "objects" is the whole measurement as the node stores it.
 *
 * Output, one per line: "adv <hex>", "service_data <hex>", "scan_response <hex>", "objects <hex>". Exit 2 on bad
 * arguments, 1 when the reading cannot be encoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv/pv_bthome.h"
#include "pv/pv_gatt.h"

static int parse_hex(const char *s, uint8_t *out, size_t want)
{
    size_t n = 0;
    int hi = -1;
    for (; *s != '\0'; s++) {
        int v;
        if (*s == ':') {
            continue;
        }
        if (*s >= '0' && *s <= '9') {
            v = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            v = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'F') {
            v = *s - 'A' + 10;
        } else {
            return -1;
        }
        if (hi < 0) {
            hi = v;
        } else {
            if (n == want) {
                return -1;
            }
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return (n == want && hi < 0) ? 0 : -1;
}

static void print_hex(const char *label, const uint8_t *p, size_t n)
{
    printf("%s ", label);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
    printf("\n");
}

/* value * scale rounded half away from zero (protocol.md 1.3: round(value / factor)). */
static int scaled(const char *text, double scale, long min, long max, long *out)
{
    char *end = NULL;
    const double v = strtod(text, &end);
    if (end == text || *end != '\0') {
        return -1;
    }
    const double x = v * scale;
    if (x < (double)min - 0.5 || x > (double)max + 0.5) {
        return -1;
    }
    *out = (long)(x < 0 ? x - 0.5 : x + 0.5);
    return 0;
}

int main(int argc, char **argv)
{
    uint8_t key[16], mac[6];
    int have_key = 0, have_mac = 0, have_counter = 0;
    unsigned long counter = 0, status = 0;
    pv_reading_t r;
    memset(&r, 0, sizeof(r));
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *opt = argv[i];
        const char *val = argv[i + 1];
        long v = 0;
        int bad = 0;
        if (strcmp(opt, "--key") == 0) {
            bad = parse_hex(val, key, sizeof(key));
            have_key = 1;
        } else if (strcmp(opt, "--mac") == 0) {
            bad = parse_hex(val, mac, sizeof(mac));
            have_mac = 1;
        } else if (strcmp(opt, "--counter") == 0) {
            char *end = NULL;
            counter = strtoul(val, &end, 0);
            bad = end == val || *end != '\0' || counter > 0xFFFFFFFFul;
            have_counter = 1;
        } else if (strcmp(opt, "--status") == 0) {
            char *end = NULL;
            status = strtoul(val, &end, 0);
            bad = end == val || *end != '\0' || status > 0xFFul;
        } else if (strcmp(opt, "--battery") == 0) {
            bad = scaled(val, 1.0, 0, 255, &v);
            r.battery_pct = (uint8_t)v;
            r.present |= PV_HAS_BATTERY;
        } else if (strcmp(opt, "--temperature") == 0) {
            bad = scaled(val, 100.0, -32768, 32767, &v);
            r.temperature_centi_c = (int16_t)v;
            r.present |= PV_HAS_TEMPERATURE;
        } else if (strcmp(opt, "--humidity") == 0) {
            bad = scaled(val, 100.0, 0, 65535, &v);
            r.humidity_centi_pct = (uint16_t)v;
            r.present |= PV_HAS_HUMIDITY;
        } else if (strcmp(opt, "--illuminance") == 0) {
            bad = scaled(val, 100.0, 0, 0xFFFFFFL, &v);
            r.illuminance_centi_lux = (uint32_t)v;
            r.present |= PV_HAS_ILLUMINANCE;
        } else if (strcmp(opt, "--moisture") == 0) {
            bad = scaled(val, 100.0, 0, 65535, &v);
            r.moisture_centi_pct = (uint16_t)v;
            r.present |= PV_HAS_MOISTURE;
        } else if (strcmp(opt, "--conductivity") == 0) {
            bad = scaled(val, 1.0, 0, 65535, &v);
            r.conductivity_us_cm = (uint16_t)v;
            r.present |= PV_HAS_CONDUCTIVITY;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "pv_advert: bad argument %s %s\n", opt, val);
            return 2;
        }
    }
    if (!have_key || !have_mac || !have_counter) {
        fprintf(stderr, "usage: pv_advert --key HEX32 --mac MAC --counter N [readings...]\n");
        return 2;
    }
    uint8_t objects[PV_BTHOME_MAX_OBJECTS_LEN], whole[PV_BTHOME_MAX_OBJECTS_LEN], sd[PV_ADV_MAX_LEN],
        adv[PV_ADV_MAX_LEN], scan[PV_ADV_MAX_LEN];
    size_t n_obj, n_whole, n_sd, n_adv, n_scan;
    char name[10];
    pv_default_name(mac, name);
    if (pv_bthome_encode_objects(&r, whole, sizeof(whole), &n_whole) != PV_OK ||
        pv_bthome_encode_advert_objects(&r, (uint32_t)counter, objects, sizeof(objects), &n_obj) != PV_OK ||
        pv_bthome_service_data_encrypt(key, mac, PV_BTHOME_DEVINFO_VERSION_2, (uint32_t)counter,
                                       objects, n_obj, sd, sizeof(sd), &n_sd) != PV_OK ||
        pv_adv_build(sd, n_sd, adv, sizeof(adv), &n_adv) != PV_OK ||
        pv_scan_response_encode(name, (uint8_t)status, scan, sizeof(scan), &n_scan) != PV_OK) {
        fprintf(stderr, "pv_advert: reading cannot be encoded\n");
        return 1;
    }
    print_hex("adv", adv, n_adv);
    print_hex("service_data", sd, n_sd);
    print_hex("scan_response", scan, n_scan);
    print_hex("objects", whole, n_whole);
    return 0;
}
