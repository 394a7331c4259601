"""People in the admin: ``events_person`` gets a surrogate id (its key is the project and the
person's id), so an unmanaged model can show it and erase from it."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0012_goals'),
    ]

    operations = [
        migrations.RunSQL("SET LOCAL statement_timeout = 0; "
                          "ALTER TABLE events_person ADD COLUMN id bigserial UNIQUE",
                          "ALTER TABLE events_person DROP COLUMN id"),
        migrations.CreateModel(
            name='Person',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('person_id', models.TextField()),
                ('first_seen', models.DateTimeField()),
                ('last_seen', models.DateTimeField()),
                ('events', models.BigIntegerField()),
                ('bot_events', models.BigIntegerField()),
                ('properties', models.JSONField(default=dict)),
            ],
            options={
                'verbose_name_plural': 'people',
                'db_table': 'events_person',
                'managed': False,
            },
        ),
    ]
