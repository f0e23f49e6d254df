package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wasmflow/wasmflow/auth"
	"github.com/wasmflow/wasmflow/store"
)

// memberResponse is a user's membership in the caller's tenant.
type memberResponse struct {
	UserID    string    `json:"user_id" example:"us_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Email     string    `json:"email" example:"ada@example.com"`
	Role      string    `json:"role" enum:"owner,admin,editor,runner,viewer" example:"editor"`
	CreatedAt time.Time `json:"created_at" doc:"When the user joined the tenant."`
}

func newMemberResponse(m *store.Membership) memberResponse {
	return memberResponse{UserID: m.UserID, Email: m.Email, Role: m.Role, CreatedAt: m.CreatedAt}
}

type memberAddInput struct {
	Body struct {
		Email    string `json:"email" format:"email" minLength:"3" maxLength:"254" example:"ada@example.com" doc:"The user's email, compared without regard to case."`
		Role     string `json:"role" enum:"owner,admin,editor,runner,viewer" example:"editor" doc:"The role in this tenant: no higher than the caller's."`
		Password string `json:"password,omitempty" minLength:"12" maxLength:"256" writeOnly:"true" doc:"Only to create a user that does not exist yet: their first password. Absent: the user must exist."`
	}
}

type memberCreatedOutput struct {
	Location string `header:"Location" doc:"The membership's URL."`
	Body     memberResponse
}

type memberOutput struct {
	Body memberResponse
}

type memberIDInput struct {
	UserID string `path:"user_id" maxLength:"64" example:"us_01jdq8m3x7k2c9v4b6n0p5r8t1"`
}

type memberUpdateInput struct {
	UserID string `path:"user_id" maxLength:"64" example:"us_01jdq8m3x7k2c9v4b6n0p5r8t1"`
	Body   struct {
		Role string `json:"role" enum:"owner,admin,editor,runner,viewer" example:"admin" doc:"The new role: no higher than the caller's."`
	}
}

type listMembersInput struct {
	PageParams
}

func (s *Server) registerMembers() {
	tags := []string{"members"}
	register(s, huma.Operation{
		OperationID: "listMembers",
		Method:      http.MethodGet,
		Path:        apiPrefix + "/members",
		Summary:     "List the tenant's members",
		Description: "By user id, one page at a time.",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest},
	}, auth.RoleAdmin, s.listMembers)
	register(s, huma.Operation{
		OperationID:   "addMember",
		Method:        http.MethodPost,
		Path:          apiPrefix + "/members",
		Summary:       "Add a member",
		Description:   "Adds an existing user, found by email, to the tenant; with `password`, creates the user first (409 when the email is taken). The role is no higher than the caller's. 404 when no user has the email and no password was sent; 409 when the user is a member already.",
		Tags:          tags,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge},
	}, auth.RoleAdmin, s.addMember)
	register(s, huma.Operation{
		OperationID: "updateMember",
		Method:      http.MethodPatch,
		Path:        apiPrefix + "/members/{user_id}",
		Summary:     "Change a member's role",
		Description: "Neither the member's current role nor the new one may be higher than the caller's. The tenant's last owner cannot be demoted (409 `last_owner`).",
		Tags:        tags,
		Errors:      []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict},
	}, auth.RoleAdmin, s.updateMember)
	register(s, huma.Operation{
		OperationID:   "removeMember",
		Method:        http.MethodDelete,
		Path:          apiPrefix + "/members/{user_id}",
		Summary:       "Remove a member",
		Description:   "The user stays, and keeps other tenants. A member with a higher role than the caller's cannot be removed; the last owner cannot (409 `last_owner`).",
		Tags:          tags,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusNotFound, http.StatusConflict},
	}, auth.RoleAdmin, s.removeMember)
}

// normalEmail is how emails are stored and looked up.
func normalEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// roleNoHigher refuses a role above the caller's, naming field.
func roleNoHigher(p *auth.Principal, role, field string) error {
	if auth.RoleAtLeast(p.Role, role) {
		return nil
	}
	return newProblem(CodeForbidden, "the role "+role+" is higher than the caller's ("+p.Role+")",
		FieldProblem{Location: field, Message: "higher than " + p.Role})
}

// lastOwner maps store.ErrLastOwner to its problem.
func lastOwner(err error) error {
	if errors.Is(err, store.ErrLastOwner) {
		return newProblem(CodeLastOwner, "a tenant keeps at least one owner: make another member owner first")
	}
	return err
}

func (s *Server) listMembers(ctx context.Context, in *listMembersInput) (*listOutput[memberResponse], error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.MembershipList(ctx, p.TenantID, in.page())
	if err != nil {
		return nil, err
	}
	return newList(rows, next, newMemberResponse), nil
}

func (s *Server) addMember(ctx context.Context, in *memberAddInput) (*memberCreatedOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := roleNoHigher(p, in.Body.Role, "body.role"); err != nil {
		return nil, err
	}
	email := normalEmail(in.Body.Email)
	var u *store.User
	if in.Body.Password == "" {
		u, err = s.store.UserGetByEmail(ctx, email)
		if errors.Is(err, store.ErrNotFound) {
			return nil, newProblem(CodeNotFound, "no user has this email: send a password to create one",
				FieldProblem{Location: "body.email", Message: "no such user"})
		}
		if err != nil {
			return nil, err
		}
	} else {
		hash, err := auth.HashPassword(in.Body.Password)
		if errors.Is(err, auth.ErrPasswordLength) {
			return nil, newProblem(CodeInvalidRequest, err.Error(),
				FieldProblem{Location: "body.password", Message: "wrong length"}).withStatus(http.StatusUnprocessableEntity)
		}
		if err != nil {
			return nil, err
		}
		u, err = s.store.UserInsert(ctx, email, hash)
		if errors.Is(err, store.ErrConflict) {
			return nil, newProblem(CodeConflict, "a user has this email: omit password to add them",
				FieldProblem{Location: "body.email", Message: "already exists"})
		}
		if err != nil {
			return nil, err
		}
		s.audit(ctx, p, "user.create", u.ID, map[string]any{"email": u.Email})
	}
	m, err := s.store.MembershipInsert(ctx, p.TenantID, u.ID, in.Body.Role)
	if errors.Is(err, store.ErrConflict) {
		return nil, newProblem(CodeConflict, "the user is a member already: PATCH /members/"+u.ID+" changes the role",
			FieldProblem{Location: "body.email", Message: "already a member"})
	}
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "member.add", u.ID, map[string]any{"email": u.Email, "role": m.Role})
	return &memberCreatedOutput{Location: apiPrefix + "/members/" + u.ID, Body: newMemberResponse(m)}, nil
}

// memberWithin reads a member whose role the caller may manage.
func (s *Server) memberWithin(ctx context.Context, p *auth.Principal, userID string) (*store.Membership, error) {
	m, err := s.store.MembershipGet(ctx, p.TenantID, userID)
	if err != nil {
		return nil, err
	}
	if !auth.RoleAtLeast(p.Role, m.Role) {
		return nil, newProblem(CodeForbidden, "this member's role ("+m.Role+") is higher than the caller's ("+p.Role+")")
	}
	return m, nil
}

func (s *Server) updateMember(ctx context.Context, in *memberUpdateInput) (*memberOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	old, err := s.memberWithin(ctx, p, in.UserID)
	if err != nil {
		return nil, err
	}
	if err := roleNoHigher(p, in.Body.Role, "body.role"); err != nil {
		return nil, err
	}
	m, err := s.store.MembershipUpdate(ctx, p.TenantID, in.UserID, in.Body.Role)
	if err != nil {
		return nil, lastOwner(err)
	}
	s.audit(ctx, p, "member.update", m.UserID, map[string]any{"from": old.Role, "role": m.Role})
	return &memberOutput{Body: newMemberResponse(m)}, nil
}

func (s *Server) removeMember(ctx context.Context, in *memberIDInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	old, err := s.memberWithin(ctx, p, in.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.store.MembershipDelete(ctx, p.TenantID, in.UserID); err != nil {
		return nil, lastOwner(err)
	}
	s.audit(ctx, p, "member.remove", in.UserID, map[string]any{"role": old.Role})
	return nil, nil
}
