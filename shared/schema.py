"""JSON Schema per event type and an AsyncAPI 3.0 document, generated from the models and catalog."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from .events import EVENT_TYPES, envelope_model
from .topics import CATALOG


def event_schemas() -> dict[str, dict]:
    return {t: envelope_model(cls).model_json_schema(mode="serialization") for t, cls in sorted(EVENT_TYPES.items())}


def asyncapi() -> dict:
    schemas = event_schemas()
    channels, operations, messages = {}, {}, {}
    for t in schemas:
        messages[t.replace(".", "_")] = {
            "name": t, "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"./schemas/{t}.json"},
            "summary": (EVENT_TYPES[t].__doc__ or "").strip().split("\n")[0] or t,
        }
    for topic in CATALOG:
        cid = topic.name.replace(".", "_").replace("-", "_")
        channels[cid] = {
            "address": topic.name,
            "description": topic.description,
            "messages": {m.event_type.replace(".", "_"): {"$ref": f"#/components/messages/{m.event_type.replace('.', '_')}"}
                         for m in topic.event_types},
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                                   "topicConfiguration": {"cleanup.policy": [("compact" if topic.compacted else "delete")]},
                                   "bindingVersion": "0.5.0"}},
            "x-key": topic.key,
            "x-producers": list(topic.producers),
            "x-internal": topic.internal,
        }
        action = "receive" if "upstream" in topic.producers else "send"
        operations[f"{action}_{cid}"] = {"action": action, "channel": {"$ref": f"#/channels/{cid}"}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "patientnamnd event contract", "version": "1.0.0",
                 "description": "Topics, keys and CloudEvents of the patientnämnd platform (see EVENTS.md). "
                                "Messages are shown in structured mode; every input topic also "
                                "accepts the CloudEvents Kafka binding's binary mode (ce_* headers, "
                                "the data as the value, content-type application/json)."},
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def write_schemas(out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    (out_dir / "schemas").mkdir(parents=True, exist_ok=True)
    written = []
    for t, schema in event_schemas().items():
        path = out_dir / "schemas" / f"{t}.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    path = out_dir / "asyncapi.yaml"
    path.write_text(yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True))
    written.append(path)
    return written
