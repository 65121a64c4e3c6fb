"""Case facts: the case as a practitioner knows it.

Every fact that a practitioner may not know is optional and defaults to ``None``, which means
*unknown* — never *false*. Models forbid unknown fields so that a misspelt fact is an error that
names the field, not a silently ignored (and therefore unknown, or worse, false) fact.

Lists follow the same rule: ``children=None`` means "we do not know who the children are";
``children=[]`` means "there are no children". Whether a list that *is* given is the whole list
is a separate fact (``children_complete``, ``incidents_complete``): until it is known to be
complete, a child or incident nobody has heard of yet could still change the decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Tri = bool | None
"""A yes/no fact that may be unknown (``None``). Yes/no facts and whole numbers are validated
strictly (``strict=True`` on their fields): ``"no"``, ``0`` or ``1`` are not read as yes or no, and
``yes`` / ``no`` (YAML booleans), ``"3"`` or ``3.0`` are not read as numbers."""


def _a_written_date(value: Any) -> Any:
    """Refuse numbers as dates: a lax reading would take ``0`` or ``"1700000000"`` as a Unix time."""
    if isinstance(value, bool | int | float) or (
            isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()):
        raise ValueError("a date must be written YYYY-MM-DD, not as a number")
    return value




class FieldError(ValueError):
    """A check across fields that knows which field is wrong: ``loc`` is its path in the model."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def completed_months(born: dt.date, on: dt.date) -> int:
    """Completed months of age on ``on`` for a child born on ``born``."""
    months = (on.year - born.year) * 12 + (on.month - born.month)
    if on.day < born.day:
        months -= 1
    return months

RiskLevel = Literal["standard", "medium", "high"]
Area = Literal[
    "london",
    "stockport",
    "leicester",
    "leicestershire",
    "rutland",
    "solihull",
    "stoke-on-trent",
    "staffordshire",
]
MatrixCategory = Literal["evidence", "risk_factor", "protective_factor"]
IncidentSeverity = Literal["serious", "lesser"]
IncidentKind = Literal[
    "physical",
    "sexual",
    "psychological",
    "emotional",
    "economic",
    "coercive_control",
    "threats",
    "honour_based_violence",
    "forced_marriage",
    "other",
]


class FactModel(BaseModel):
    """Base for every fact model: unknown fields are refused, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def _tri(description: str) -> Tri:
    return Field(default=None, strict=True, description=description)


class Child(FactModel):
    """One child (or unborn child) of the family."""

    name: str | None = Field(default=None, description="A label for the child (initials, not a full name).")
    date_of_birth: dt.date | None = Field(default=None, description="Date of birth, if known.")
    age_years: int | None = Field(
        default=None, strict=True, ge=0, le=17,
        description="Age in completed years, if the date of birth is not known."
    )
    age_months: int | None = Field(
        default=None, strict=True, ge=0, le=215,
        description="Age in completed months, if the date of birth is not known."
    )
    unborn: Tri = _tri("The child is not yet born (the mother is pregnant with this child).")
    in_household: Tri = _tri("The child lives in the household.")
    regularly_visits: Tri = _tri("The child regularly visits or stays in the household.")
    present_at_incident: Tri = _tri("The child was present at an incident of domestic abuse.")
    saw_or_heard: Tri = _tri("The child saw or heard the abuse.")
    injured: Tri = _tri("The child was injured.")
    used_as_shield: Tri = _tri("The child was used as a shield or physical barrier.")
    intervened: Tri = _tri("The child intervened or tried to intervene in the assault.")
    involved_in_assault: Tri = _tri(
        "The child was involved in the assault in another way than as a shield or by intervening "
        "(e.g. made to take part)."
    )
    made_the_call: Tri = _tri("The child made the original call for help (usually to the police).")
    child_protection_plan: Tri = _tri("The child has a child protection plan.")
    special_needs: Tri = _tri("The child has special needs or a disability.")
    behaviour_affected: Tri = _tri("The child's behaviour is or may be affected by seeing or hearing the abuse.")
    left_unattended: Tri = _tri("The child was left unattended because of the domestic abuse.")
    traumatised: Tri = _tri("The child is clearly traumatised.")
    abusing_family_members: Tri = _tri(
        "The child directs violence or abuse at parents, siblings or other family members."
    )
    young_persons_dash: RiskLevel | None = Field(
        default=None, description="Result of a young person's DASH completed for this child, if any."
    )
    young_persons_dash_completed: Tri = _tri(
        "A young person's DASH has been completed for this child (true whenever "
        "young_persons_dash is given); false records that none has been."
    )

    _date_of_birth_written = field_validator("date_of_birth", mode="before")(_a_written_date)

    @model_validator(mode="before")
    @classmethod
    def _young_persons_dash_completed(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("young_persons_dash") is not None:
            if data.get("young_persons_dash_completed") is False:
                raise ValueError(
                    "young_persons_dash is given but young_persons_dash_completed is false"
                )
            if data.get("young_persons_dash_completed") is None:
                data = {**data, "young_persons_dash_completed": True}
        return data

    @model_validator(mode="after")
    def _consistent_age(self) -> Child:
        given = [f for f in ("date_of_birth", "age_years", "age_months") if getattr(self, f) is not None]
        if self.unborn is True and given:
            raise FieldError((given[0],), f"an unborn child cannot also have {given[0]}")
        if self.age_years is not None and self.age_months is not None and self.age_months // 12 != self.age_years:
            raise FieldError(("age_months",), f"age_years={self.age_years} and age_months={self.age_months} disagree")
        return self


class Victim(FactModel):
    """The adult victim (the procedures mostly say 'the mother' or 'the woman')."""

    pregnant: Tri = _tri("The victim is pregnant.")
    vulnerable_adult: Tri = _tri("The victim is a vulnerable adult / adult at risk.")
    special_needs: Tri = _tri("The victim has special needs or a disability.")
    minority_community: Tri = _tri("The victim or children are from a black or minority ethnic community.")
    isolated: Tri = _tri("The victim is isolated (socially, by language, or by the abuser).")
    consents_to_early_help: Tri = _tri("The victim (non-abusing parent) consents to a CAF / early help assessment.")
    staying_with_abuser: Tri = _tri("The victim plans to remain in the relationship with the abusive partner.")
    separating: Tri = _tri("The victim is separating or has recently separated from the abusive partner.")
    children_have_contact_with_abuser: Tri = _tri("The children have contact with the abusive parent.")
    contact_risk_found: Tri = _tri(
        "An assessment of the risks from contact concluded there is a risk of harm to the mother or children."
    )
    high_coercive_control: Tri = _tri("There is a high level of coercive control.")
    is_young_person: Tri = _tri("The victim is a young person (under 18) in an abusive relationship.")
    feels_unsafe: Tri = _tri("The victim feels unsafe on a day-to-day basis.")


class AbusivePartner(FactModel):
    """The abusive partner (or other family member who abuses)."""

    accepts_responsibility: Tri = _tri("The abuser acknowledges the abuse and accepts responsibility.")
    willing_to_join_programme: Tri = _tri("The abuser genuinely wants to engage with a perpetrator programme.")
    substance_misuse_or_mental_ill_health: Tri = _tri("The abuser misuses alcohol or drugs, or has mental ill health.")
    threatening_to_professionals: Tri = _tri(
        "Someone in the household is intimidating or threatening to practitioners."
    )
    threatened_or_abused_children: Tri = _tri(
        "The abuser has threatened or abused the children "
        "(incl. threats to harm a child, using them as weapons)."
    )
    abused_animals: Tri = _tri("The abuser has abused, or threatened to abuse, pets or animals.")
    jealous_or_controlling: Tri = _tri("The abuser shows jealous or controlling behaviour.")
    threats_to_kill: Tri = _tri("The abuser has threatened to kill.")
    strangulation: Tri = _tri("The abuser has strangled, choked or suffocated the victim.")
    weapons: Tri = _tri("The abuser has used a weapon or has access to weapons.")
    stalking: Tri = _tri("The abuser stalks or harasses the victim (calling, texting, following).")
    nothing_to_lose: Tri = _tri("The abuser behaves as if he has lost everything, nothing to lose.")
    violence_convictions: Tri = _tri("The abuser has convictions for violence.")
    preoccupied_with_former_partner: Tri = _tri(
        "The abuser is preoccupied with a previous partner's behaviour, with little "
        "awareness of or sustained interest in the children."
    )
    blames_victim_for_loss_of_control: Tri = _tri(
        "The abuser holds the victim responsible for his loss of control."
    )
    known_to_other_agencies: Tri = _tri("The abuser is known to other agencies.")
    aware_of_impact: Tri = _tri(
        "The abuser is aware, or shows some awareness, of the impact of the abuse on "
        "those affected, including the children."
    )
    consents_to_information_sharing: Tri = _tri(
        "The abuser consents to information about him being shared with agencies "
        "supporting the other parent and the children."
    )


class Incident(FactModel):
    """One known incident of domestic abuse."""

    date: dt.date | None = Field(default=None, description="Date of the incident, if known.")
    severity: IncidentSeverity | None = Field(default=None, description="'serious' or 'lesser', if judged.")
    kind: IncidentKind | None = Field(default=None, description="The kind of abuse.")
    children_present: Tri = _tri("Children were present at this incident.")
    offence_indicated: Tri = _tri("A criminal offence may have been committed.")
    police_attended: Tri = _tri("The police attended this incident.")

    _date_written = field_validator("date", mode="before")(_a_written_date)


class Assessments(FactModel):
    """Risk assessments and processes already under way."""

    dash: RiskLevel | None = Field(default=None, description="Adult victim's DASH risk level.")
    specss: RiskLevel | None = Field(default=None, description="Police SPECSS+ (CUSSCAAM) risk level (London).")
    dial: RiskLevel | None = Field(default=None, description="Police DIAL risk level (Staffordshire).")
    marac_referred: Tri = _tri("The case has been referred to a MARAC.")
    marac_convened: Tri = _tri("A MARAC has been convened on the case.")
    police_triage_level: int | None = Field(
        default=None, strict=True, ge=1, le=4, description="Police triage risk level 1–4 (Solihull)."
    )
    dvrim_scale: int | None = Field(
        default=None, strict=True, ge=1, le=4,
        description="Scale 1–4 recorded on the Solihull DVRIM, if completed."
    )
    dvrim_not_enough_information: Tri = _tri("The DVRIM was completed and gave 'not enough information'.")
    open_to_social_care: Tri = _tri("The family is already open to children's social care.")
    early_help_assessment_exists: Tri = _tri("An early help assessment / CAF is already in place.")
    mappa_level: int | None = Field(default=None, strict=True, ge=0, le=3,
                                    description="MAPPA level of the abuser (0 = none).")


class MatrixTick(FactModel):
    """One description ticked on a risk identification matrix (London appendix 1, Solihull DVRIM).

    The matrix sheets are not part of the procedure texts, so the library does not know the
    descriptions: the practitioner records the scale heading and category the tick falls under.
    """

    scale: int = Field(strict=True, ge=1, le=4, description="The scale heading the ticked description sits under.")
    category: MatrixCategory = Field(description="evidence, risk_factor or protective_factor (London 9.2.4).")
    description: str | None = Field(default=None, description="The ticked description, for the record.")


class Concerns(FactModel):
    """The practitioner's concerns and judgements."""

    domestic_abuse_known: Tri = _tri("Domestic abuse is known, disclosed or reasonably suspected in the family.")
    significant_harm_suspected: Tri = _tri(
        "There is knowledge or suspicion that a child is suffering, or at risk of suffering, significant harm."
    )
    immediate_risk: Tri = _tri("A child is at immediate risk of harm.")
    child_at_risk_of_harm: Tri = _tri(
        "A child is at risk of harm of any degree, significant or not; false only where knowledge or "
        "evidence indicates that the children are not at risk of harm."
    )
    child_in_need_threshold_met: Tri = _tri(
        "A child meets the local threshold for a children's social care 'child in need' assessment "
        "(Children Act 1989 s17), as judged by the professional."
    )
    criminal_offence_indicated: Tri = _tri("A criminal offence may have been committed.")
    previous_concerns: Tri = _tri("There is previous information about domestic abuse or child welfare concerns.")
    professional_judgement_referral: Tri = _tri("A professional judges that the circumstances warrant a referral.")
    threat_to_child_safety: Tri = _tri(
        "The practitioner's assessment has identified a threat to a child's safety."
    )
    honour_based_violence: Tri = _tri("Honour-based violence is evident or suspected.")
    forced_marriage: Tri = _tri("Forced marriage is evident or suspected.")
    child_to_parent_abuse: Tri = _tri("A child or adolescent is abusing a parent or carer.")
    adult_at_high_risk_of_serious_harm: Tri = _tri(
        "The adult victim is at high risk of homicide or serious harm."
    )
    practitioner_unsure: Tri = _tri("The practitioner is unsure whether a referral is needed.")
    out_of_hours: Tri = _tri("It is outside the local children's social care team's office hours.")
    faith_or_culture_factors: Tri = _tri("Faith or cultural factors are relevant to the abuse.")
    seriousness_in_doubt: Tri = _tri("Professionals are in doubt about how serious the case is.")
    child_safety_or_welfare_concern: Tri = _tri(
        "A professional (e.g. the attending police officer) has specific concerns about a "
        "child's safety or welfare."
    )
    escalating_abuse: Tri = _tri("The abuse is escalating in severity or frequency.")
    financial_problems: Tri = _tri("The household has financial problems.")
    imminent_risk_to_victim: Tri = _tri("There is an indication of imminent risk to the victim.")
    suicide_attempts: Tri = _tri("The victim or the abuser has attempted suicide.")
    abuse_at_child_contact: Tri = _tri(
        "Domestic abuse incidents have happened when the children's contact took place."
    )


class Case(FactModel):
    """A case: one family, as known on the assessment date."""

    case_id: str | None = Field(default=None, description="The case system's reference.")
    assessment_date: dt.date = Field(
        description="The date the assessment is made; ages and time windows count from it."
    )
    area: Area | None = Field(default=None, description="The local authority area the family lives in.")
    children: list[Child] | None = Field(
        default=None, description="The children of the family. None = not known; [] = no children."
    )
    children_complete: Tri = _tri("Every child of the household is in `children`.")
    victim: Victim = Field(default_factory=Victim)
    abusive_partner: AbusivePartner = Field(default_factory=AbusivePartner)
    incidents: list[Incident] | None = Field(
        default=None, description="Known incidents of domestic abuse. None = not known."
    )
    incidents_complete: Tri = _tri("Every incident in the period that matters is in `incidents`.")
    assessments: Assessments = Field(default_factory=Assessments)
    matrix: list[MatrixTick] | None = Field(
        default=None,
        description="Descriptions ticked on the risk identification matrix. None = matrix not completed.",
    )
    concerns: Concerns = Field(default_factory=Concerns)

    _assessment_date_written = field_validator("assessment_date", mode="before")(_a_written_date)

    @model_validator(mode="after")
    def _dates_not_after_assessment(self) -> Case:
        on = self.assessment_date
        for i, child in enumerate(self.children or []):
            born = child.date_of_birth
            if born is None:
                continue
            where: tuple[str | int, ...] = ("children", i, "date_of_birth")
            if born > on:
                raise FieldError(where, f"date of birth {born} is after assessment_date {on}; record an "
                                        "unborn child as unborn: true")
            months = completed_months(born, on)
            if months > 215:
                raise FieldError(where, f"date of birth {born} makes this child {months // 12} on "
                                        f"assessment_date {on}; a child is under 18")
            if child.age_months is not None and child.age_months != months:
                raise FieldError(("children", i, "age_months"),
                                 f"age_months={child.age_months} disagrees with date_of_birth {born} "
                                 f"({months} completed months on assessment_date {on}); give one of them")
            if child.age_years is not None and child.age_years != months // 12:
                raise FieldError(("children", i, "age_years"),
                                 f"age_years={child.age_years} disagrees with date_of_birth {born} "
                                 f"({months // 12} completed years on assessment_date {on}); give one of them")
        for i, incident in enumerate(self.incidents or []):
            if incident.date is not None and incident.date > on:
                raise FieldError(("incidents", i, "date"),
                                 f"incident date {incident.date} is after assessment_date {on}")
        if self.children == [] and self.children_complete is False:
            raise FieldError(("children_complete",), "children is [] (no children) but children_complete is false")
        return self
