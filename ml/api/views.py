"""REST endpoints of the ml app. Thin: scoped lookups from ``ml.selectors`` (404 outside the
caller's projects), bodies and query parameters checked by their serializers, writes through
``ml.services``; viewers read, editors change."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics_site.errors import ValidationFailed
from analytics_site.fields import valid, valid_query
from projects.authentication import token_of
from projects.models import Role, Scope
from projects.selectors import get_project_for

from .. import forecasting, related, selectors, services
from . import serializers as s


def _body(request, serializer_class, **kwargs) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The body must be a JSON object.", details={"body": ["Object."]})
    return valid(serializer_class, request.data, **kwargs)


def _project(request, project_id, write=False):
    return get_project_for(request.user, project_id, token=token_of(request),
                           min_role=Role.EDITOR if write else Role.VIEWER,
                           scope=Scope.WRITE if write else Scope.READ)


def _access(request, write=False) -> dict:
    return {"token": token_of(request), "min_role": Role.EDITOR if write else Role.VIEWER,
            "scope": Scope.WRITE if write else Scope.READ}


def _model_out(model) -> dict:
    return s.ModelSerializer(selectors.models_of(model.project).get(pk=model.pk)).data


class ModelList(APIView):
    @extend_schema(responses=s.ModelSerializer(many=True), operation_id="anomaly_models_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        found = selectors.models_of(project).prefetch_related("series")
        return Response(s.ModelSerializer(found, many=True).data)

    @extend_schema(request=s.ModelWriteSerializer, responses={201: s.ModelSerializer},
                   operation_id="anomaly_models_create")
    def post(self, request, project_id):
        project = _project(request, project_id, write=True)
        model = services.create_model(project=project, user=request.user,
                                      **_body(request, s.ModelWriteSerializer))
        return Response(_model_out(model), status=status.HTTP_201_CREATED)


class ModelDetail(APIView):
    @extend_schema(responses=s.ModelSerializer, operation_id="anomaly_models_retrieve")
    def get(self, request, pk):
        return Response(_model_out(selectors.get_model_for(request.user, pk,
                                                           **_access(request))))

    @extend_schema(request=s.ModelWriteSerializer, responses=s.ModelSerializer,
                   operation_id="anomaly_models_update")
    def patch(self, request, pk):
        model = selectors.get_model_for(request.user, pk, **_access(request, write=True))
        changes = _body(request, s.ModelWriteSerializer, partial=True)
        return Response(_model_out(services.update_model(model=model, **changes)))

    @extend_schema(responses={204: None}, operation_id="anomaly_models_delete")
    def delete(self, request, pk):
        model = selectors.get_model_for(request.user, pk, **_access(request, write=True))
        services.delete_model(model=model)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelTrain(APIView):
    """Train now: a worker takes it up (the state goes training, then ready or failed)."""

    @extend_schema(request=None, responses={202: s.ModelSerializer},
                   operation_id="anomaly_models_train")
    def post(self, request, pk):
        model = selectors.get_model_for(request.user, pk, **_access(request, write=True))
        return Response(_model_out(services.train_now(model=model)),
                        status=status.HTTP_202_ACCEPTED)


class ModelPredictions(APIView):
    """Each bucket of a range as the model judged it: value, expected, band, score."""

    runs_queries = True

    @extend_schema(responses=OpenApiTypes.OBJECT, parameters=[s.RangeQuery],
                   operation_id="anomaly_models_predictions")
    def get(self, request, pk):
        model = selectors.get_model_for(request.user, pk, **_access(request))
        found = valid_query(s.RangeQuery, request)
        return Response(selectors.predictions(model, start=found["start"], end=found["end"]))


class AnomalyList(APIView):
    @extend_schema(responses=s.AnomalySerializer(many=True), parameters=[s.AnomaliesQuery],
                   operation_id="anomalies_list")
    def get(self, request, project_id):
        project = _project(request, project_id)
        query = valid_query(s.AnomaliesQuery, request)
        model = None
        if query.get("model") is not None:
            model = selectors.get_model_for(request.user, query["model"], **_access(request))
            if model.project_id != project.pk:
                raise ValidationFailed("The model is not this project's.",
                                       details={"model": ["Another project's."]})
        found = selectors.anomalies_of(
            project, model=model, start=query.get("start"), end=query.get("end"),
            severity=query.get("severity"), include_dismissed=query["include_dismissed"],
            ordering=query["ordering"], limit=query["limit"])
        return Response(s.AnomalySerializer(found, many=True).data)


class AnomalyDetail(APIView):
    @extend_schema(responses=s.AnomalySerializer, operation_id="anomalies_retrieve")
    def get(self, request, pk):
        return Response(s.AnomalySerializer(selectors.get_anomaly_for(
            request.user, pk, **_access(request))).data)


class AnomalyFeedback(APIView):
    """"not_anomaly" keeps the anomaly's window out of the model's baselines from then on."""

    @extend_schema(request=s.FeedbackSerializer, responses=s.AnomalySerializer,
                   operation_id="anomalies_feedback")
    def post(self, request, pk):
        anomaly = selectors.get_anomaly_for(request.user, pk, **_access(request, write=True))
        found = _body(request, s.FeedbackSerializer)
        anomaly = services.give_feedback(anomaly=anomaly, feedback=found["feedback"],
                                         user=request.user)
        return Response(s.AnomalySerializer(anomaly).data)


class Correlations(APIView):
    """A heat-map of correlation coefficients at each pair's best lag."""

    runs_queries = True

    @extend_schema(request=s.CorrelationSerializer, responses=OpenApiTypes.OBJECT,
                   operation_id="correlations")
    def post(self, request, project_id):
        project = _project(request, project_id)
        found = _body(request, s.CorrelationSerializer)
        common = {"start": found["start"], "end": found["end"], "step": found["step"],
                  "method": found["method"], "max_lag": found["max_lag"],
                  "changes": found["changes"]}
        if found.get("related_to"):
            return Response(related.most_related(project, target=found["related_to"], **common))
        return Response(related.heatmap(project, queries=found["queries"], **common))


class FailureProbability(APIView):
    """The probability that an alert rule (its definition) fires within the next hours."""

    runs_queries = True

    @extend_schema(request=s.FailureSerializer, responses=OpenApiTypes.OBJECT,
                   operation_id="failure_probability")
    def post(self, request, project_id):
        project = _project(request, project_id)
        return Response(forecasting.failure_probability(project,
                                                        **_body(request, s.FailureSerializer)))
