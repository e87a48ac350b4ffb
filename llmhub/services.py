"""Set-up a fresh hub needs: an admin login and the demo model."""
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model

from models_registry.demo import DEMO_MODEL_NAME, demo_model_path
from models_registry.models import Model
from models_registry.services import model_register_local_file


def admin_ensure(*, password_file: Path) -> tuple[str, str | None]:
    """Create the first admin once; return its username and, if still on file, its password."""
    User = get_user_model()
    if not User.objects.filter(is_superuser=True).exists():
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser("admin", "", password)
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    password = password_file.read_text().strip() if password_file.exists() else None
    return admin.get_username(), password


def demo_model_register() -> Model:
    return model_register_local_file(name=DEMO_MODEL_NAME, path=demo_model_path())
