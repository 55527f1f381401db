"""Staff: Entra ID sign-in, server-side sessions, manager and service-desk services. No Flask here."""
