"""Celery's Redis transport, made to survive Redis going away under a worker (kombu 5.7).

The fault suite found two ways a Redis outage killed the worker for good (the pool gone, the
main process idle, nothing processed until someone restarted it):
- When a channel closes with its connection lost, kombu restores the unacknowledged messages
  and dies of an AttributeError in `_connparams`, finding no connection.
- A task that finishes after the reconnect acknowledges its message on the old, dead channel,
  and dies of the same AttributeError.
Neither restore nor acknowledgement on a dead channel is needed here: the database is the
outbox, and the sweep hands on every notice whose worker's lease lapsed. A message left
unacknowledged in Redis is restored after the visibility timeout and finds its notice done.
"""

import logging

from kombu.transport import redis, virtual

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def ack(self, delivery_tag):
        if self.channel.connection is None:
            logger.info("Message %s not acknowledged: its channel died with Redis", delivery_tag)
            virtual.QoS.ack(self, delivery_tag)
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if self.channel.connection is None:
            logger.info("Message %s not rejected: its channel died with Redis", delivery_tag)
            virtual.QoS.reject(self, delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    QoS = QoS
    do_restore = False


class Transport(redis.Transport):
    Channel = Channel
