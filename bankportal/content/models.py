from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PublishedQuerySet(models.QuerySet):
    def published(self, *, now=None):
        return self.filter(is_published=True, published_at__lte=now or timezone.now())


class Notice(models.Model):
    """A notice (공지사항) written by staff, in Korean with an optional English version."""

    title_ko = models.CharField(_("title (Korean)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    body_ko = models.TextField(_("body (Korean)"))
    body_en = models.TextField(_("body (English)"), blank=True)
    is_pinned = models.BooleanField(_("pinned"), default=False)
    is_published = models.BooleanField(_("published"), default=True)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-is_pinned", "-published_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return self.title_ko

    def title_for(self, language: str | None) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ko

    def body_for(self, language: str | None) -> str:
        return self.body_en if language == "en" and self.body_en else self.body_ko


class FaqEntry(models.Model):
    """A frequently asked question (자주 묻는 질문), grouped by category."""

    class Category(models.TextChoices):
        BANKING = "banking", _("Internet banking")
        CERTIFICATE = "certificate", _("Certificates")
        SECURITY = "security", _("Security media")
        ACCOUNT = "account", _("Accounts")

    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    question_ko = models.CharField(_("question (Korean)"), max_length=300)
    question_en = models.CharField(_("question (English)"), max_length=300, blank=True)
    answer_ko = models.TextField(_("answer (Korean)"))
    answer_en = models.TextField(_("answer (English)"), blank=True)
    display_order = models.PositiveSmallIntegerField(_("display order"), default=0)
    is_published = models.BooleanField(_("published"), default=True)
    published_at = models.DateTimeField(_("published at"), default=timezone.now)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["category", "display_order", "id"]
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")

    def __str__(self) -> str:
        return self.question_ko

    def question_for(self, language: str | None) -> str:
        return self.question_en if language == "en" and self.question_en else self.question_ko

    def answer_for(self, language: str | None) -> str:
        return self.answer_en if language == "en" and self.answer_en else self.answer_ko


class Inquiry(models.Model):
    """A 1:1 inquiry (1:1 문의): a signed-in user asks, staff answer in the admin, the user reads it."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="inquiries"
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("question"))
    created_at = models.DateTimeField(_("asked at"), default=timezone.now, db_index=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("answered by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("1:1 inquiry")
        verbose_name_plural = _("1:1 inquiries")
        permissions = [("answer_inquiry", _("Can answer 1:1 inquiries"))]
        indexes = [models.Index(fields=["author", "-created_at"], name="inquiry_author_recent")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None
