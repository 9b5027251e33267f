"""E-mail: editable templates, merge fields, the send queue over SMTP and the client's e-mail log.

Public face (``from billow.services.mail import templates``):

- ``templates``: template types, get, list, save and render templates;
- ``composing``: compose an e-mail into the queue (``queue_template``, the worker's
  ``handle_email_requested``) and :class:`~billow.services.mail.composing.SendingFailed`;
- ``send_now``: send at once (the SendEmail and SendAdminEmail actions);
- ``delivery``: the worker's side of the queue: claim due rows, deliver, retry;
- ``smtp``: SMTP settings and the :class:`~billow.services.mail.smtp.Mailer`;
- ``email_log``: the client's e-mail log (GetEmails);
- ``context_registry``: :class:`~billow.services.mail.context_registry.MailContext` and the
  registry of resolvers (what an e-mail of a template type is about), filled by
  :mod:`billow.bootstrap`;
- ``client_contexts`` and ``invoice_service_contexts``: the resolvers of client, user and
  admin, invoice and service e-mails (registered by :mod:`billow.bootstrap`; support's is
  ``support.mail_fields``).

Private to the package: ``_mime`` (building the MIME message) and ``_default_templates``
(the shipped templates).
This ``__init__`` imports nothing; callers import the modules.
"""
