#pragma once
// A Report as data on the daemon's socket (docs/nod-protocol.md, "query"): the daemon writes the
// report it computed, the CLI reads it back and renders it itself (table, CSV, JSON, colour and
// pictures are the CLI's business). Reading what was written gives a Report that renders to the
// same bytes as the original with every renderer and RenderOptions.
//
// Wire form, one JSON object:
//   {"heading": "...", "meta": [[key, {"raw": raw}], ...], "notes": ["...", ...],
//    "tables": [{"name", "title", "empty_message",
//                "columns": [{"key", "title", "align": "left"|"right", "in_text", "picture"}],
//                "rows": [[cell, ...], ...]}]}
//   cell: {"text": "...", "raw": null|int|real|string|bool} plus, in picture columns,
//         "bar": {"value": real|null, "scale": "..."} or
//         "spread": {"history": [min, q1, median, q3, max], "recent": [...]};
//   a raw real that is not finite (JSON has none) is "raw_real": "nan"|"inf"|"-inf" instead.
//
// Thread-safe (no shared state). read_report throws Error naming what is missing or malformed.
#include <simdjson.h>

#include "common/json-writer.hh"
#include "format/report.hh"

namespace nixmon::nod::format {

// Writes the report as one JSON value at the writer's current position.
void write_report(JsonWriter& w, const Report& r);
Report read_report(simdjson::dom::element e);

}  // namespace nixmon::nod::format
