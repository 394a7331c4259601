"""``manage.py ensureadmin``: make sure the operator can log in.

Creates the superuser ``ADMIN_USERNAME`` if missing, with ``ADMIN_PASSWORD`` when set, else with a
generated password kept in ``DATA_DIR/admin-password`` (mode 600) so the login printed at start-up
stays true across restarts. With ``ADMIN_PASSWORD`` set, an existing admin's password is reset to
it, so the environment is the source of truth.
"""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the admin user if missing and print the login."

    def handle(self, *args, **options):
        User = get_user_model()
        username = settings.ADMIN_USERNAME
        password_file = settings.DATA_DIR / "admin-password"
        password = settings.ADMIN_PASSWORD
        user = User.objects.filter(username=username).first()
        if password:
            source = "ADMIN_PASSWORD"
        elif password_file.exists():
            password, source = password_file.read_text().strip(), str(password_file)
        else:
            password, source = secrets.token_urlsafe(12), str(password_file)
        if user is None:
            user = User.objects.create_superuser(username, settings.ADMIN_EMAIL, password)
            if source != "ADMIN_PASSWORD":
                password_file.parent.mkdir(parents=True, exist_ok=True)
                password_file.write_text(password + "\n")
                password_file.chmod(0o600)
        elif settings.ADMIN_PASSWORD and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        if source == "ADMIN_PASSWORD":
            self.stdout.write(f"Admin login: {username} (password from ADMIN_PASSWORD)")
        elif password_file.exists() and user.check_password(password):
            self.stdout.write(f"Admin login: {username} / {password}  (kept in {password_file})")
        else:
            self.stdout.write(f"Admin login: {username} (password changed since it was generated)")
