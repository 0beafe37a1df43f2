"""Attribute keys, span and event names of the probes convention (docs/design.md, "The probe conventions").

Named the way ``opentelemetry.semconv`` names its constants, so code that builds or reads these
spans (the adapters, the reconcilers, users' own assertions) never spells a key by hand. The
profile ``rules/systems/probes.yaml`` reads exactly these keys; change both together.

Pure constants: no imports beyond the standard library.
"""

from __future__ import annotations

from enum import Enum

# ----------------------------------------------------------------------------- job run span

#: The job system: ``celery``, ``rq``, ``dramatiq``, ``arq``, or your own.
JOB_SYSTEM = "job.system"
#: The framework's id of the job (the Celery task id, the RQ job id, the Dramatiq message id…).
JOB_ID = "job.id"
#: The job's name: task name, function path, actor name.
JOB_NAME = "job.name"
#: The queue the job was taken from.
JOB_QUEUE = "job.queue"
#: 1 for the first execution of a job, 2 for its first retry, …
JOB_ATTEMPT = "job.attempt"
#: How this execution ended; one of ``JobOutcomeValues``.
JOB_OUTCOME = "job.outcome"
#: The job's business key (the order, the invoice): what ``correlate: key`` rules match against
#: the effect side (``probes.job_run(..., key=...)``, ``probes.set_key``).
JOB_KEY = "job.key"
#: The effects a job run must confirm (a string list attribute; ``probes.expects``).
JOB_EXPECTED_EFFECTS = "job.expected_effects"

#: Span event: the moment the job was marked done (``probes.mark_done`` or the adapter).
JOB_DONE_EVENT = "job.done"

# ----------------------------------------------------------------------------- enqueue span
# ``probes.enqueue`` records a publish where the broker's instrumentation does not, with the
# OpenTelemetry messaging conventions' keys, so the generic ``messaging`` profile reads it.

#: The messaging system (``rabbitmq``, ``nats``…): the ``job.system`` of the job runs it feeds.
MESSAGING_SYSTEM = "messaging.system"
#: The message id: the ``job.id`` of the job runs that process it.
MESSAGING_MESSAGE_ID = "messaging.message.id"
#: The queue (or topic, subject) the message is published to.
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
#: ``send`` on a publish span.
MESSAGING_OPERATION_TYPE = "messaging.operation.type"

# ----------------------------------------------------------------------------- confirmation span

#: Name of the INTERNAL span that proves a side effect happened.
SIDE_EFFECT_CONFIRM_SPAN = "side_effect.confirm"
#: The effect, e.g. ``email.sent``, ``payment.captured``.
SIDE_EFFECT_NAME = "side_effect.name"
#: The business or idempotency key of the effect, e.g. the notification id.
SIDE_EFFECT_KEY = "side_effect.key"
#: ``ok`` or ``error``: whether the verification succeeded; one of ``SideEffectStatusValues``.
SIDE_EFFECT_STATUS = "side_effect.status"
#: Why a confirmation failed or an effect was skipped; one of ``SideEffectReasonValues``.
SIDE_EFFECT_REASON = "side_effect.reason"

# ----------------------------------------------------------------------------- skip span

#: Name of the INTERNAL span ``probes.guard.effect_once`` emits instead of performing an effect
#: that an earlier attempt (or another job) already performed: ``side_effect.name``,
#: ``side_effect.key``, ``job.id``, ``job.system``, ``side_effect.reason=already_done``. Not a
#: second confirmation: the ``probes`` profile counts it as proof for the run that skipped but
#: never as a repeat of the effect (it is keyless in the ``effects`` table).
SIDE_EFFECT_SKIP_SPAN = "side_effect.skip"
#: On a skip span: the ``job.id`` of the attempt that performed the effect, when it is known.
SIDE_EFFECT_DONE_BY = "side_effect.done_by"


class JobOutcomeValues(Enum):
    DONE = "done"
    FAILED = "failed"
    RETRY = "retry"


class SideEffectStatusValues(Enum):
    OK = "ok"
    ERROR = "error"


class SideEffectReasonValues(Enum):
    #: skip span: the effect was done before, by this job's earlier attempt or another job.
    ALREADY_DONE = "already_done"
    #: confirmation: the ``verify`` read-back returned a falsy value (the effect is not there).
    VERIFICATION_FAILED = "verification_failed"
    #: confirmation: the ``verify`` read-back raised (whether the effect is there is unknown).
    VERIFICATION_ERROR = "verification_error"
