"""The financial certificate cloud (금융인증서): the part the clearing house (KFTC) plays.

It holds customers' private keys, which it generates itself and keeps under envelope encryption,
and uses one only after the holder's 6-digit PIN. Several institutions share it: a certificate is
issued through one and may be registered at others. The portal talks to it only through
``certcenter.cloud.api`` (frozen dataclasses in and out, refusal codes, never model instances), so
the cloud could become a remote service. ``local.LocalCloud`` is the in-process implementation on
this database; ``envelope`` (keys, PIN verifiers) and ``pins`` (the trivial-PIN rule) are pure.
"""
