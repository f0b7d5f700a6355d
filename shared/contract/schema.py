"""JSON Schema per event type and an AsyncAPI 3.0 document, generated from the models and catalog.

Each channel carries its Kafka bindings: partitions and the topic configuration `pn topics`
creates (`cleanup.policy`, `retention.ms`), with the retention class and its reason; each message
its Kafka message binding (the key) and an example (shared/contract/examples.py). A message type written to
two topics (alerts, the diary queue's inputs) appears once per channel, because the key differs.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from shared.contract.events import EVENT_TYPES, envelope_model
from shared.contract.examples import EXAMPLES
from shared.contract.topics import CATALOG, DEFAULT_REPLAY_WINDOW_DAYS, Topic

BINDING_VERSION = "0.5.0"
EXAMPLE_TIME = "2023-05-01T10:00:00+02:00"


def event_schemas() -> dict[str, dict]:
    return {t: envelope_model(cls).model_json_schema(mode="serialization") for t, cls in sorted(EVENT_TYPES.items())}


def _ident(text: str) -> str:
    return text.replace(".", "_").replace("-", "_")


def topic_configuration(topic: Topic) -> dict:
    """The channel's `bindings.kafka.topicConfiguration` (AsyncAPI Kafka binding 0.5.0)."""
    configs = topic.configs_for(DEFAULT_REPLAY_WINDOW_DAYS)
    out: dict = {"cleanup.policy": configs["cleanup.policy"].split(","),
                 "retention.ms": int(configs["retention.ms"])}
    if "max.message.bytes" in configs:
        out["max.message.bytes"] = int(configs["max.message.bytes"])
    return out


def example(topic: Topic, event_type: str) -> dict:
    """A CloudEvent of `event_type` as it travels on `topic`, with its key."""
    cls = EVENT_TYPES[event_type]
    data = cls.model_validate(EXAMPLES[event_type])
    key = topic.key_of(data) or "(subject or event id)"
    payload = {"specversion": "1.0", "id": "00000000-0000-5000-8000-000000000001", "source": "urn:pn:example",
               "type": event_type, "time": EXAMPLE_TIME, "datacontenttype": "application/json",
               "data": data.model_dump(mode="json", exclude_none=True)}
    return {"name": f"{event_type} on {topic.name}", "key": key, "payload": payload}


def _message(topic: Topic, cls: type) -> dict:
    t = cls.event_type
    doc = (cls.__doc__ or "").strip()
    return {
        "name": t, "title": t, "contentType": "application/cloudevents+json",
        "summary": doc.split("\n")[0] or t,
        "description": f"{doc or t}\n\nOn `{topic.name}`: {topic.description}".strip(),
        "payload": {"$ref": f"./schemas/{t}.json"},
        "bindings": {"kafka": {"key": {"type": "string", "description": topic.key},
                               "bindingVersion": BINDING_VERSION}},
        "examples": [example(topic, t)],
    }


def asyncapi() -> dict:
    channels, operations, messages = {}, {}, {}
    for topic in CATALOG:
        cid = _ident(topic.name)
        refs = {}
        for cls in topic.event_types:
            mid = f"{cid}.{_ident(cls.event_type)}"  # "." keeps ids apart from token-like runs
            messages[mid] = _message(topic, cls)
            refs[_ident(cls.event_type)] = {"$ref": f"#/components/messages/{mid}"}
        channels[cid] = {
            "address": topic.name,
            "description": f"{topic.description}\n\nRetention ({topic.retention.value}): {topic.reason}.",
            "messages": refs,
            "bindings": {"kafka": {"topic": topic.name, "partitions": topic.partitions,
                                   "topicConfiguration": topic_configuration(topic),
                                   "bindingVersion": BINDING_VERSION}},
            "x-retention-class": topic.retention.value,
            "x-producers": list(topic.producers),
            "x-internal": topic.internal,
        }
        action = "receive" if "upstream" in topic.producers else "send"
        operations[f"{action}_{cid}"] = {"action": action, "channel": {"$ref": f"#/channels/{cid}"},
                                         "messages": [{"$ref": f"#/channels/{cid}/messages/{m}"} for m in refs]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "patientnamnd event contract", "version": "1.1.0",
                 "description": "Topics, keys, retention and CloudEvents of the patientnämnd platform (see "
                                "EVENTS.md and docs/topics.md). retention.ms of the personal-data topics is "
                                f"the default replay window ({DEFAULT_REPLAY_WINDOW_DAYS} days, "
                                "PN_REPLAY_WINDOW_DAYS). Messages are shown in structured mode; every input "
                                "topic also accepts the CloudEvents Kafka binding's binary mode (ce_* "
                                "headers, the data as the value, content-type application/json)."},
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
