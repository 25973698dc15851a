"""Locust load test for the Qwen All-in-One Api: the same mixed workload as `qwen load`.

Each simulated user sends, one after another, sentiment requests and chat messages in its own
conversation (a user id of its own, multi-turn), with inputs of 15-45 characters of natural
Chinese and English text from sentences.txt beside this file. The mix is set by QWEN_MIX
(default "sentiment=0.5,chat=0.5"). An Api that checks API keys gets the one in QWEN_API_KEY.

    locust -f deploy/loadtest/locustfile.py --host http://localhost:5000
    locust -f deploy/loadtest/locustfile.py --host http://localhost:5000 \
        --headless --users 20 --spawn-rate 20 --run-time 60s
"""

import os
import random
import uuid
from pathlib import Path

from locust import HttpUser, task


def _read_sentences():
    path = Path(__file__).with_name("sentences.txt")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def _sentiment_share(text):
    weights = {"sentiment": 0.0, "chat": 0.0}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in weights:
            raise ValueError(f"QWEN_MIX: '{part}' is not sentiment=WEIGHT or chat=WEIGHT")
        weights[name] = float(value)
        if weights[name] < 0:
            raise ValueError(f"QWEN_MIX: the weight of '{name}' must be >= 0")
    total = weights["sentiment"] + weights["chat"]
    if total <= 0:
        raise ValueError("QWEN_MIX: the weights must add up to more than 0")
    return weights["sentiment"] / total


SENTENCES = _read_sentences()
SENTIMENT_SHARE = _sentiment_share(os.environ.get("QWEN_MIX", "sentiment=0.5,chat=0.5"))
API_KEY = os.environ.get("QWEN_API_KEY", "")


class QwenUser(HttpUser):
    """A closed-loop user: the next request goes out as soon as the previous answer is complete."""

    def on_start(self):
        self.user_id = f"locust-{uuid.uuid4().hex[:12]}"
        if API_KEY:
            self.client.headers["Authorization"] = f"Bearer {API_KEY}"
        self.random = random.Random()

    @task
    def mixed(self):
        text = self.random.choice(SENTENCES)
        if self.random.random() < SENTIMENT_SHARE:
            self.client.post("/v1/sentiment", json={"text": text}, name="/v1/sentiment")
        else:
            self.client.post(f"/v1/conversations/{self.user_id}/messages", json={"content": text},
                             name="/v1/conversations/[user]/messages")

    def on_stop(self):
        # Leave no conversation history behind (404: this user never chatted, so there is none).
        with self.client.delete(f"/v1/conversations/{self.user_id}", name="/v1/conversations/[user]",
                                catch_response=True) as response:
            if response.status_code == 404:
                response.success()
