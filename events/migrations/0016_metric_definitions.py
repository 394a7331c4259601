"""Metric definitions (the catalogue: description, unit, type per metric name), and an index
over the series' names folded to lower case in byte order, which autocompletion reads in order
(a prefix is a range of it; a substring scan stops at the limit) without pg_trgm."""

import django.db.models.deletion
import events.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0015_session_pages'),
        ('projects', '0003_invitation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunSQL(
            'CREATE INDEX events_metricseries_name_search ON events_metricseries '
            '(project_id, (lower(name) COLLATE "C"), name)',
            "DROP INDEX IF EXISTS events_metricseries_name_search"),
        migrations.CreateModel(
            name='MetricDefinition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200)),
                ('description', models.TextField(blank=True, default='', max_length=2000)),
                ('unit', models.CharField(blank=True, default='', help_text='One of %, ns, us, µs, ms, s, min, h, d, bytes, KiB, MiB, GiB, TiB, KB, MB, GB, bits, bits/s, bytes/s, KiB/s, MiB/s, req/s, ops/s, count, events, requests, errors, °C, Hz, W, V, A; or any text up to 32 characters.', max_length=32, validators=[events.models.validate_unit])),
                ('type', models.CharField(blank=True, choices=[('gauge', 'Gauge'), ('counter', 'Counter'), ('rate', 'Rate'), ('distribution', 'Distribution'), ('set', 'Set')], default='', max_length=16)),
                ('source', models.CharField(blank=True, default='', editable=False, help_text='The receiver that first described it (otlp, prometheus, statsd); empty if a person.', max_length=32)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('edited_at', models.DateTimeField(blank=True, editable=False, help_text='Set when a person edits it: receivers no longer change it.', null=True)),
                ('edited_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.project')),
            ],
            options={
                'ordering': ['project', 'name'],
                'constraints': [models.UniqueConstraint(fields=('project', 'name'), name='events_metricdefinition_unique_name')],
            },
        ),
    ]
