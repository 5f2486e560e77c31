/* Soil probe calibration by the gardener: hold the button 5 s (it wakes the node), follow the log. */
#pragma once

#include "esp_err.h"
#include "pv/pv_calib.h"

/* Runs the dry/wet procedure and stores the result in NVS. Blocks until done (or 2 min pass). */
esp_err_t calibration_run(pv_moisture_calib_t *calib);
