"""Local HTTPS stand-in for Microsoft Entra ID and Microsoft Graph (demo and tests only).

Written from Microsoft's contract, not from our client: it imports nothing from ``activation`` or
``portal``. Start it with ``entra_emulator.server.EmulatorServer`` or ``python -m entra_emulator``.
"""
