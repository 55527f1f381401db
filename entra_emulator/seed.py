"""Demo staff accounts seeded on first start (and kept by ``POST /_emulator/reset``).

Add a row to extend the sign-in page. ``roles`` are app roles of the portal's app registration and
end up in the ID token's ``roles`` claim.
"""

from __future__ import annotations

DEMO_STAFF: tuple[dict, ...] = (
    {
        "displayName": "Morgan Manager",
        "givenName": "Morgan",
        "surname": "Manager",
        "employeeId": "M1001",
        "userPrincipalName": "morgan.manager@contoso.example",
        "jobTitle": "Engineering Manager",
        "department": "Engineering",
        "roles": [],
    },
    {
        "displayName": "Riley Reviewer",
        "givenName": "Riley",
        "surname": "Reviewer",
        "employeeId": "M1002",
        "userPrincipalName": "riley.reviewer@contoso.example",
        "jobTitle": "Finance Manager",
        "department": "Finance",
        "roles": [],
    },
    {
        "displayName": "Dana Desk",
        "givenName": "Dana",
        "surname": "Desk",
        "employeeId": "SD001",
        "userPrincipalName": "dana.desk@contoso.example",
        "jobTitle": "Service Desk Agent",
        "department": "IT",
        "roles": ["ServiceDesk"],
    },
    {  # issue 16: a second desk agent (two-person rule) and a desk lead (threat mode)
        "displayName": "Sam Second",
        "givenName": "Sam",
        "surname": "Second",
        "employeeId": "SD002",
        "userPrincipalName": "sam.second@contoso.example",
        "jobTitle": "Service Desk Agent",
        "department": "IT",
        "roles": ["ServiceDesk"],
    },
    {
        "displayName": "Lee Lead",
        "givenName": "Lee",
        "surname": "Lead",
        "employeeId": "SD003",
        "userPrincipalName": "lee.lead@contoso.example",
        "jobTitle": "Service Desk Lead",
        "department": "IT",
        "roles": ["ServiceDesk", "DeskLead"],
    },
)

TENANT_DOMAIN = "contoso.example"
