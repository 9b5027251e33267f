"""Support: departments, tickets and replies, attachments, inbound mail, auto-close, the blocklist.

Public face (what the API, CLI, automation tasks and web pages import, as
``from billow.services.support import opening``):

- ``departments``: add, find and list departments, their ticket counts, the department a
  mail address belongs to;
- ``staff``: which admins work a department;
- ``statuses``: ticket statuses and priorities (defaults, names, validation);
- ``predefined_replies``: canned answers and their categories;
- ``opening``: open a ticket (:class:`~billow.services.support.opening.NewTicket`);
- ``replies``: add, edit and delete replies and staff notes;
- ``lookup``: get a ticket as the acting user may see it;
- ``queries``: list and count tickets, a ticket's replies and notes;
- ``changes``: update, close and delete a ticket;
- ``merge``: merge tickets;
- ``blocklist``: block a ticket's sender, check an address;
- ``auto_close``: close inactive tickets (the ``CloseInactiveTickets`` automation);
- ``ticket_attachments``: a ticket's, reply's or note's attachments (rows and content);
- ``attachment_files``: attachment files on disk (uploads, limits, safe serving);
- ``mail_parsing`` / ``inbound_mail``: parse and import piped or polled e-mail;
- ``imap``: poll the departments' mailboxes;
- ``mail_fields``: a ticket's e-mail merge fields (the ``support`` resolver named in
  :data:`billow.services.mail.context_registry.RESOLVERS`).

Private to the package: ``_ticket_common`` (masks, shared checks, hook variables) and
``_render`` (message markdown to sanitised HTML). This ``__init__`` imports nothing, so
importing one module never loads the others (and never creates a cycle between packages).
"""
