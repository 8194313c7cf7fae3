"""The branch staff admin: customers, accounts, journals and deposit products.

Tellers and branch managers work here. Every change goes through ``accounts.services``, which
checks the permission again and writes the audit event with the acting staff member; the admin
only authorises, shows a form and maps the service's refusals back onto it.

Resident registration numbers are never rendered: customers show ``rrn_masked``, the RRN form
field is never echoed, and an RRN typed as a search term is swapped for the matching customer
ids before any page is drawn (see ``bankportal.admin``).

Custom pages (``get_urls``): customer ``find-by-rrn/`` and ``<id>/lift-minor-cap/``; account
``<id>/deposit/``, ``<id>/withdraw/`` and ``<id>/reset-password/``; journal ``<id>/reverse/``;
e-banking agreement ``add/`` (the branch application), ``<id>/receipt/``, ``<id>/suspend/``,
``<id>/request-release/`` and ``<id>/terminate/``.
"""

# Importing the modules registers their ModelAdmins (staff_requests: the approval queue, 책임자 승인).
from accounts.admin import agreements, catalogue, customers, ledger, staff_requests  # noqa: F401
